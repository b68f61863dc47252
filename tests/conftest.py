"""Shared fixtures. Fast tests use the scripted TEST DOUBLE provider (testdouble/...)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from muspsy_sim.agents.llm.environment import configure_offline_environment

REPO = Path(__file__).resolve().parent.parent
LIBRARY = REPO / "scenarios" / "library"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

configure_offline_environment()


# Engine tests count every planned session: their clients always come back (no dropout), with the calibrated
# dynamics otherwise. Tests of dropout (tests/test_dropout.py) and of the legacy preset set their own.
NO_DROPOUT = {"trait_dropout_rate": 0.0}


def scripted_config(tmp_path: Path, **overrides) -> Path:
    """Write a campaign config that uses the test double for every role; returns its path."""
    config = {
        "name": "scripted",
        "scenarios": ["gad-priya-38", "insomnia-david-47"],
        "scenario_dir": str(LIBRARY),
        "sessions": 3,
        "max_turns": 3,
        "counselor": "muspsy",
        "models": {role: {"model": "testdouble/scripted"} for role in ("counselor", "client", "judge")},
        "seed": 11,
        "workers": 2,
        "output_dir": str(tmp_path / "runs"),
        "client_dynamics": dict(NO_DROPOUT),
    }
    config.update(overrides)
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture
def make_config(tmp_path):
    return lambda **overrides: scripted_config(tmp_path, **overrides)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """Share one converted-model cache across tests (conversion takes ~30 s once)."""
    return Path(os.environ.setdefault("MUSPSY_SIM_CACHE", str(Path.home() / ".cache" / "muspsy-sim")))


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A `chroma run` server process on loopback for the whole test session; its URL."""
    from tests.services import ServiceUnavailable, start_chroma_server

    try:
        server = start_chroma_server(tmp_path_factory.mktemp("chroma-server"))
    except ServiceUnavailable as reason:
        pytest.skip(f"no Chroma server: {reason}")
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster on loopback for the whole test session; its server URL."""
    from tests.services import ServiceUnavailable, start_postgres

    try:
        server = start_postgres()
    except ServiceUnavailable as reason:
        pytest.skip(f"no PostgreSQL: {reason}")
    yield server.url
    server.stop()


@pytest.fixture
def postgres_database(postgres_server):
    """A fresh database per test, so checkpoint threads never leak between tests."""
    import uuid

    from tests.services import create_database

    return create_database(postgres_server, f"test_{uuid.uuid4().hex[:12]}")
