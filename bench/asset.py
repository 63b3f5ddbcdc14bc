"""asset_bytes: the Lambda asset zipped, as the CDK stack builds it (infra/asset_build.py).

The asset is built the same way, into a temporary directory: lambda_src/ without the excludes, with
unchecked-hash pycs when a python3.13 is found on this machine (PATH or pyenv), else source only. So
the figure is the asset as deployed from this machine. No aws_cdk import (it starts node).
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra.asset_build import build_asset, find_runtime_python


@dataclass(frozen=True)
class AssetFigure:
    zip_bytes: int
    files: int
    compiled: bool  # holds pycs of a python3.13


def _files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def _zip_bytes(root: Path) -> int:
    """Bytes of the zip (deflate, level 9), as CDK uploads the asset."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in _files(root):
            archive.write(path, path.relative_to(root).as_posix())
    return len(buffer.getvalue())


def measure_asset() -> AssetFigure:
    with tempfile.TemporaryDirectory(prefix="cmc-bench-asset-") as tmp:
        root = Path(tmp)
        compiled = build_asset(root, python=find_runtime_python())
        return AssetFigure(zip_bytes=_zip_bytes(root), files=len(_files(root)), compiled=compiled)
