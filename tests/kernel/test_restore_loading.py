"""The loader's one piece of judgement outside a kernel: which failures are an import cycle broken
between two threads (retried) and which are real (reported)."""

from __future__ import annotations

import importlib._bootstrap as bootstrap

from elastic_kernel.errors import SerializationError
from elastic_kernel.lineage.modules import import_deadlock


def _raised(inner: BaseException) -> SerializationError:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise SerializationError("could not load x") from exc
    except SerializationError as outer:
        return outer


def test_an_import_deadlock_under_a_load_error_is_recognised() -> None:
    deadlock = bootstrap._DeadlockError("deadlock detected by _ModuleLock('m')")  # type: ignore[attr-defined]
    assert import_deadlock(_raised(deadlock))
    assert import_deadlock(deadlock)


def test_other_load_errors_are_not_retried() -> None:
    assert not import_deadlock(_raised(ModuleNotFoundError("No module named 'gone'")))
    assert not import_deadlock(_raised(RuntimeError("deadlock in user code")))
    assert not import_deadlock(None)
