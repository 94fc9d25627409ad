"""Collects the class observations of the coverage tests into ``_results.json`` for the matrix."""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.coverage.harness import Scenario, run_scenario

RESULTS = Path(__file__).with_name("_results.json")


class _Log:
    def __init__(self) -> None:
        self.observations: list[dict[str, Any]] = []


@pytest.fixture(scope="session")
def coverage_log() -> Iterator[_Log]:
    log = _Log()
    yield log
    if log.observations:
        RESULTS.write_text(
            json.dumps(
                {"python": platform.python_version(), "observations": log.observations},
                indent=1,
                sort_keys=True,
            )
        )


@pytest.fixture
def check_scenario(coverage_log: _Log, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """Run a scenario and log its observations under the test's id."""

    def run(scenario: Scenario) -> list[dict[str, Any]]:
        observations = run_scenario(scenario, tmp_path)
        for entry in observations:
            entry["test"] = request.node.nodeid
        coverage_log.observations.extend(observations)
        return observations

    return run
