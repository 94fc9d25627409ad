"""Named planning modes: alpha presets for the min-cut and the two baselines."""

from __future__ import annotations

import math

from elastic_kernel.errors import PlanError

__all__ = [
    "ALPHA_MODES",
    "BASELINE_MODES",
    "MODE_BALANCED",
    "MODE_FAST_MIGRATE",
    "MODE_FAST_RESTORE",
    "MODE_RERUN_ALL",
    "MODE_STORE_ALL",
    "PLAN_MODES",
    "mode_alpha",
    "parse_mode",
]

MODE_BALANCED = "balanced"
MODE_FAST_MIGRATE = "fast-migrate"
MODE_FAST_RESTORE = "fast-restore"
MODE_STORE_ALL = "store-all"
MODE_RERUN_ALL = "rerun-all"

# The presets differ by 10x either way: enough to flip choices whose two costs are within an
# order of magnitude, which is where the weighting matters.
ALPHA_MODES: dict[str, float] = {
    MODE_BALANCED: 1.0,
    MODE_FAST_MIGRATE: 10.0,
    MODE_FAST_RESTORE: 0.1,
}
BASELINE_MODES: tuple[str, ...] = (MODE_STORE_ALL, MODE_RERUN_ALL)
PLAN_MODES: tuple[str, ...] = (*ALPHA_MODES, *BASELINE_MODES)


def mode_alpha(name: str) -> float | None:
    """The alpha preset of a named mode.

    Parameters
    ----------
    name
        One of :data:`PLAN_MODES`.

    Returns
    -------
    float or None
        The preset alpha, or None for the baselines ``store-all`` / ``rerun-all``, which do not
        weigh anything (their reported cost uses the cost model's alpha).

    Raises
    ------
    PlanError
        When ``name`` is not a known mode.
    """
    if name in ALPHA_MODES:
        return ALPHA_MODES[name]
    if name in BASELINE_MODES:
        return None
    raise PlanError(
        f"unknown plan mode {name!r}; use a number >= 0 or one of {', '.join(PLAN_MODES)}"
    )


def parse_mode(text: str) -> tuple[str, float | None]:
    """Parse a user's ``--alpha`` / ``ELASTIC_ALPHA`` value: a number or a mode name.

    Parameters
    ----------
    text
        ``"2.5"`` (a custom alpha for the balanced min-cut) or a mode name such as
        ``"fast-migrate"``.

    Returns
    -------
    tuple
        ``(mode, alpha)`` to pass as ``solve_plan(..., mode=mode)`` with
        ``CostModel(..., alpha=alpha)`` (alpha is None for the baselines).

    Raises
    ------
    PlanError
        When ``text`` is neither a finite number >= 0 nor a known mode.
    """
    cleaned = text.strip().lower()
    try:
        value = float(cleaned)
    except ValueError:
        return cleaned, mode_alpha(cleaned)
    if not (math.isfinite(value) and value >= 0):
        raise PlanError(f"alpha {text!r} must be a finite number >= 0 or a mode name")
    return MODE_BALANCED, value
