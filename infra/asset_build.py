"""The Lambda asset's content: lambda_src/ without what the runtime does not need, as sources only.

The asset is the same bytes on every machine that synthesizes it: no bytecode (which would depend on
the Python found there), no dependency (boto3 comes with the runtime, Powertools with pydantic and the
X-Ray SDK with the AWS-managed layer). No aws_cdk import: the bench builds the same asset to measure it,
and importing CDK starts node.
"""

from __future__ import annotations

import fnmatch
import shutil
from pathlib import Path

ASSET_DIR = Path(__file__).resolve().parent.parent / "lambda_src"
# CDK's glob syntax (Code.from_asset's `exclude`); build_asset applies the same patterns.
ASSET_EXCLUDE = ["requirements.txt", "**/__pycache__", "**/*.pyc"]


def _excluded(relative: str) -> bool:
    """Whether ASSET_EXCLUDE drops this path (relative to the asset's root; `**/` matches any depth)."""
    name = relative.rpartition("/")[2]
    return any(
        fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(name, pattern.removeprefix("**/"))
        for pattern in ASSET_EXCLUDE
    )


def build_asset(output_dir: str | Path) -> None:
    """Copy the asset's files (lambda_src/ without ASSET_EXCLUDE) into `output_dir`, which may exist."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(ASSET_DIR)
        return {name for name in names if _excluded((relative / name).as_posix())}

    shutil.copytree(ASSET_DIR, Path(output_dir), ignore=ignore, dirs_exist_ok=True)
