"""Fixtures shared by every tier: the CMC payloads kept as JSON files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# CI runs the same examples every time (a landing must not hinge on a lucky draw); a developer's
# run explores new ones. Either way every failing example is printed for reproduction.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Powertools reads these when the handler module loads: no X-Ray daemon in tests.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "cmc-webhooks")

FIXTURES = Path(__file__).parent / "fixtures" / "cmc"


def load_fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return document


def fixture_text(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


SEED_FIXTURES = [
    "seed_deliveries_queued",
    "seed_deliveries_succeeded",
    "seed_bounces_host_unknown",
    "seed_deliveries_failed_user_unknown",
    "seed_bounces_user_unknown",
]


@pytest.fixture
def seed_names() -> list[str]:
    return list(SEED_FIXTURES)
