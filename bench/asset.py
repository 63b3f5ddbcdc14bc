"""asset_bytes: lambda_src/ zipped as the CDK stack packages it (infra/ingest_function.py's excludes)."""

from __future__ import annotations

import fnmatch
import io
import zipfile
from pathlib import Path

from bench.payloads import ROOT

ASSET_DIR = ROOT / "lambda_src"
# The same patterns as infra/ingest_function.py ASSET_EXCLUDE.
EXCLUDE = ("requirements.txt", "**/__pycache__", "**/*.pyc")


def _excluded(relative: Path) -> bool:
    text = relative.as_posix()
    parts = [Path(*relative.parts[: n + 1]).as_posix() for n in range(len(relative.parts))]
    for pattern in EXCLUDE:
        bare = pattern.removeprefix("**/")
        if any(fnmatch.fnmatch(part, pattern) or fnmatch.fnmatch(Path(part).name, bare) for part in parts):
            return True
        if fnmatch.fnmatch(text, pattern):
            return True
    return False


def asset_files(root: Path = ASSET_DIR) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not _excluded(p.relative_to(root)))


def measure(root: Path = ASSET_DIR) -> int:
    """Bytes of the zip (deflate, level 9), as CDK uploads the asset."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in asset_files(root):
            archive.write(path, path.relative_to(root).as_posix())
    return len(buffer.getvalue())
