"""asset_bytes: the Lambda asset as the stack builds it (infra/asset_build.py), zipped with deflate.

No aws_cdk import (it starts node): infra/asset_build.py is the stack's own build, without CDK.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from infra.asset_build import build_asset


def measure() -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="cmc-bench-asset-") as tmp:
        root, archive_path = Path(tmp) / "asset", Path(tmp) / "asset.zip"
        build_asset(root)
        files = sorted(path for path in root.rglob("*") if path.is_file())
        with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in files:
                archive.write(path, path.relative_to(root).as_posix())
        return {"bytes": archive_path.stat().st_size, "files": len(files)}
