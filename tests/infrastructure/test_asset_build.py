"""The Lambda asset: lambda_src/'s runtime sources and nothing else, the same bytes on every machine
(test_cli_synth.py checks that the real synth stages exactly this)."""

from __future__ import annotations

from pathlib import Path

from infra.asset_build import ASSET_DIR, build_asset


def files_under(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def test_the_asset_holds_the_runtime_package_and_nothing_excluded(tmp_path: Path) -> None:
    build_asset(tmp_path)

    files = files_under(tmp_path)
    assert "cmc_webhooks/handlers/api.py" in files
    assert "cmc_webhooks/handlers/publisher.py" in files
    assert all(name.startswith("cmc_webhooks/") for name in files), sorted(files)
    assert "requirements.txt" not in files
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]


def test_the_asset_is_every_source_byte_for_byte_and_no_bytecode(tmp_path: Path) -> None:
    # No file depends on the machine: whatever bytecode a Python here wrote next to the sources stays out.
    build_asset(tmp_path / "asset")

    built = files_under(tmp_path / "asset")
    assert built == {name: (ASSET_DIR / name).read_bytes() for name in built}
    assert {name for name in files_under(ASSET_DIR) if name.endswith(".py")} == {
        name for name in built if name.endswith(".py")
    }


def test_building_twice_gives_the_same_content(tmp_path: Path) -> None:
    build_asset(tmp_path / "one")
    build_asset(tmp_path / "two")

    assert files_under(tmp_path / "one") == files_under(tmp_path / "two")
