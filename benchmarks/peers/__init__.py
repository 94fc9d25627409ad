"""One driver per checkpoint/restore method, all measured the same way by ``benchmarks/run.py``."""

from __future__ import annotations
