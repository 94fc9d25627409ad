"""Loggers, saved by name with the settings a notebook gives them.

``logging.Logger`` pickles as ``getLogger(name)``: a loaded logger is the process's logger of
that name, as it should be, but ``log.setLevel(logging.DEBUG)`` made through a variable is
lost. The level, ``propagate`` and ``disabled`` travel with the name here. Handlers do not:
they hold streams and files of the process that made them.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["rebuild_logger", "reduce_logger"]


def rebuild_logger(name: str | None, level: int, propagate: bool, disabled: bool) -> object:
    """The process's logger ``name`` (the root logger for None), with these settings."""
    logger = logging.getLogger(name)
    logger.setLevel(level)
    logger.propagate = propagate
    logger.disabled = disabled
    return logger


def reduce_logger(obj: object) -> tuple[object, ...] | Any:
    """``(rebuild_logger, settings)`` for a logger; ``NotImplemented`` for anything else."""
    if not isinstance(obj, logging.Logger):
        return NotImplemented
    name = None if isinstance(obj, logging.RootLogger) else obj.name
    return (rebuild_logger, (name, obj.level, obj.propagate, obj.disabled))
