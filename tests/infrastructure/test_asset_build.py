"""build_asset: the Lambda asset is lambda_src/ without the excludes, with 3.13 unchecked-hash pycs when a
python3.13 is found (test_cli_synth.py checks the asset that the real synth stages)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.asset_build import ASSET_DIR, build_asset, find_runtime_python
from tests.infrastructure.conftest import pyc_of

UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, check_source off


def pyc_flags(pyc: Path) -> int:
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def files_under(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def runtime_python() -> str:
    python = find_runtime_python()
    if python is None:
        pytest.skip("no python3.13 on this machine (PATH or pyenv): the asset would ship source only")
    return python


@pytest.fixture
def source_tree(tmp_path: Path) -> Path:
    """A small lambda_src/ with everything the excludes drop: pycs of the Python running here, a stray
    pyc, requirements.txt."""
    root = tmp_path / "src"
    for name, text in {
        "requirements.txt": "aws-lambda-powertools\n",
        "pkg/__init__.py": "",
        "pkg/mod.py": "VALUE = 1\n",
        "pkg/sub/deep.py": "def f() -> int:\n    return 2\n",
        "pkg/__pycache__/mod.cpython-311.pyc": "stale",
        "pkg/sub/__pycache__/deep.cpython-313.pyc": "stale",
        "pkg/stray.pyc": "stale",
        "pkg/data.json": "{}",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


KEPT = {"pkg/__init__.py", "pkg/mod.py", "pkg/sub/deep.py", "pkg/data.json"}


def test_without_a_python_the_asset_is_the_sources_without_the_excludes(
    source_tree: Path, tmp_path: Path
) -> None:
    compiled = build_asset(tmp_path / "asset", python=None, source_dir=source_tree)

    assert compiled is False
    assert files_under(tmp_path / "asset") == KEPT


def test_with_a_python_3_13_every_source_gets_a_fresh_unchecked_hash_pyc(
    source_tree: Path, tmp_path: Path
) -> None:
    python = runtime_python()
    output = tmp_path / "asset"
    output.mkdir()  # CDK hands over an existing, empty directory

    compiled = build_asset(output, python=python, source_dir=source_tree)

    assert compiled is True
    sources = {name for name in KEPT if name.endswith(".py")}
    assert files_under(output) == KEPT | {pyc_of(name) for name in sources}
    for name in sources:
        pyc = output / pyc_of(name)
        assert pyc_flags(pyc) == UNCHECKED_HASH, name
        assert pyc.read_bytes() != b"stale"


def test_the_real_asset_has_a_pyc_for_each_module_naming_its_source_under_var_task(tmp_path: Path) -> None:
    python = runtime_python()

    build_asset(tmp_path, python=python)

    files = files_under(tmp_path)
    sources = {name for name in files if name.endswith(".py")}
    assert "cmc_webhooks/handlers/api.py" in sources
    assert "requirements.txt" not in files
    assert files == sources | {pyc_of(name) for name in sources}
    # The path compileall recorded, read by the 3.13 that wrote it (marshal is version-specific)
    pyc = tmp_path / pyc_of("cmc_webhooks/handlers/api.py")
    read = "import marshal, sys; print(marshal.loads(open(sys.argv[1], 'rb').read()[16:]).co_filename)"
    recorded = subprocess.run(
        [python, "-c", read, str(pyc)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert recorded == "/var/task/cmc_webhooks/handlers/api.py"


def test_the_real_asset_without_a_python_is_lambda_src_s_sources(tmp_path: Path) -> None:
    build_asset(tmp_path, python=None)

    expected = {
        name
        for name in files_under(ASSET_DIR)
        if "__pycache__/" not in name and not name.endswith(".pyc") and name != "requirements.txt"
    }
    assert "cmc_webhooks/handlers/api.py" in expected
    assert files_under(tmp_path) == expected
