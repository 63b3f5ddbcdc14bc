"""The Lambda asset's content: lambda_src/ with bytecode compiled by a Python 3.13, when one is here.

Lambda's /var/task is read-only, so a source-only asset is compiled again at every cold start: about
20 ms of CPU for the ingest handler's 21 modules even with warm caches, 20-30 ms in fresh processes.
Shipping pycs made by the runtime's Python, as *unchecked-hash* pycs (PEP 552), skips that (reading
them takes under 1 ms): the interpreter uses them without comparing the source's mtime, which the
asset's zip does not keep. A pyc from another Python version is ignored (its file name carries that
version's cache tag), so only a 3.13 is worth compiling with.

No aws_cdk import: the bench builds the same asset, and importing CDK starts node.
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import shutil
import subprocess
from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda_src"
# The asset is the runtime code only: boto3 comes with the runtime, Powertools (with pydantic and the
# X-Ray SDK) with the AWS-managed layer, so no dependency is bundled. CDK's glob syntax; build_asset
# applies them to the copy too.
ASSET_EXCLUDE = ["requirements.txt", "**/__pycache__", "**/*.pyc"]
# Where Lambda unpacks the asset: the pycs name their source there, as tracebacks then show it.
TASK_ROOT = "/var/task"
COMPILE_TIMEOUT_SECONDS = 120


def _runs_as_runtime(candidate: str) -> str | None:
    """The interpreter's own path if `candidate` runs and is the runtime's version (a pyenv shim on PATH
    may exist and still not run, when 3.13 is not one of pyenv's selected versions)."""
    try:
        completed = subprocess.run(  # noqa: S603 - a python3.13 found on this machine, fixed arguments
            [candidate, "-I", "-c", "import sys; print(sys.version_info[:2] == (3, 13), sys.executable)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    is_runtime, _, executable = completed.stdout.strip().partition(" ")
    return executable if completed.returncode == 0 and is_runtime == "True" else None


@functools.cache
def find_runtime_python() -> str | None:
    """A Python 3.13 on this machine, searched as the Makefile's PY313_FOUND: pyenv's, else python3.13 on
    PATH. pyenv's first: its python3.13 shim on PATH takes ~150 ms to fail when 3.13 is not selected."""
    pyenv = sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.13*/bin/python3.13")), reverse=True)
    candidates = [*pyenv, shutil.which("python3.13")]
    for candidate in candidates:
        if candidate and (executable := _runs_as_runtime(candidate)):
            return executable
    return None


def _excluded(relative: str) -> bool:
    """Whether ASSET_EXCLUDE drops this path (relative to the asset's root; `**/` matches any depth)."""
    name = relative.rpartition("/")[2]
    return any(
        fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(name, pattern.removeprefix("**/"))
        for pattern in ASSET_EXCLUDE
    )


def build_asset(output_dir: str | Path, *, python: str | None, source_dir: Path = ASSET_DIR) -> bool:
    """Copy the asset (lambda_src/ without ASSET_EXCLUDE) into `output_dir`, which may exist; compile
    it with `python` if one is given.

    True when the copy holds unchecked-hash pycs made by `python`, False when it is source only.
    """
    source = source_dir.resolve()
    output = Path(output_dir).resolve()

    def ignore(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(source)
        return {name for name in names if _excluded((relative / name).as_posix())}

    shutil.copytree(source, output, ignore=ignore, dirs_exist_ok=True)
    if python is None:
        return False
    # -I: no PYTHON* variable of this shell applies (PYTHONOPTIMIZE would make opt-1 pycs, which the
    # runtime ignores). No -j: for our ~30 files a process pool costs more than it saves (about 180 ms
    # with -j 0 against 85 ms without, measured on 2 cores).
    completed = subprocess.run(  # noqa: S603 - the given interpreter's compileall, fixed arguments
        [
            python,
            "-I",
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode",
            "unchecked-hash",
            # The recorded source path is /var/task/..., not this build directory.
            "-s",
            str(output),
            "-p",
            TASK_ROOT,
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{python} -m compileall failed on the Lambda asset ({completed.returncode}):\n"
            f"{completed.stdout}{completed.stderr}"
        )
    return True
