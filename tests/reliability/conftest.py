"""Fixtures of the reliability suite: a tally of what was tried, rendered to a report on demand.

Set ``ELASTIC_RELIABILITY_REPORT=benchmarks/results/reliability.md`` to write the counts of this
run there (``tools/soak.sh`` does); a plain ``make test`` writes nothing into the tree.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

REPORT_ENV = "ELASTIC_RELIABILITY_REPORT"
SOAK_ENV = "ELASTIC_SOAK"
_TALLY = pytest.StashKey[Counter[str]]()
_STARTED = pytest.StashKey[float]()


def is_soak() -> bool:
    """Whether the long variants run (``ELASTIC_SOAK=1``, ``make soak``)."""
    return os.environ.get(SOAK_ENV, "") not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TALLY] = Counter()
    config.stash[_STARTED] = time.monotonic()


@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> Counter[str]:
    """Counts of this run (notebooks fuzzed, crash trials, bad inputs...), for the report."""
    return request.config.stash[_TALLY]


@pytest.fixture
def store_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "store"
    path.mkdir()
    yield path


# Outcome of each reliability test in this run (a regression test that xfails is a bug still
# open; one that passes, fixed). Report hooks get no config to stash it on.
_CURRENT: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "tests/reliability/" not in report.nodeid.replace("\\", "/"):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "xfail" if hasattr(report, "wasxfail") else report.outcome
        _CURRENT[report.nodeid] = outcome


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get(REPORT_ENV)
    if not target:
        return
    config = session.config
    outcomes = dict(_CURRENT)
    if not outcomes:
        return
    data = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "soak": is_soak(),
        "seconds": round(time.monotonic() - config.stash[_STARTED], 1),
        "counts": dict(sorted(config.stash[_TALLY].items())),
        "outcomes": outcomes,
    }
    from tests.reliability.report import render

    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    path.write_text(render(data))
