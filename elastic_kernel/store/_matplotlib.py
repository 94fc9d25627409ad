"""matplotlib callback registries pickled without consuming a callback id.

matplotlib's ``CallbackRegistry.__getstate__`` saves ``next(self._cid_gen)``: every pickling
advances the live registry's counter, so the session a checkpoint leaves behind (and the
serializability check before it) is no longer the one it saved, and the loaded copy's counter
is one behind the original's. Here the state is the same but for the counter, which is read
without advancing it.
"""

from __future__ import annotations

import re
import sys
from typing import Any

__all__ = ["reduce_callback_registry"]

_COUNT = re.compile(r"count\((-?\d+)\)")


def reduce_callback_registry(obj: object) -> Any:
    """The reduction of a matplotlib ``CallbackRegistry``; ``NotImplemented`` for anything
    else, or for a registry whose layout is not the one this knows."""
    cbook = sys.modules.get("matplotlib.cbook")
    registry = getattr(cbook, "CallbackRegistry", None)
    if registry is None or type(obj) is not registry:
        return NotImplemented
    attributes = vars(obj)
    counter = _COUNT.fullmatch(repr(attributes.get("_cid_gen")))
    callbacks, kept = attributes.get("callbacks"), attributes.get("_pickled_cids")
    if counter is None or not isinstance(callbacks, dict) or not isinstance(kept, set):
        return NotImplemented
    state = {
        **attributes,
        # As matplotlib's own __getstate__: only the callbacks marked picklable are kept.
        "callbacks": {
            signal: {cid: proxy() for cid, proxy in by_id.items() if cid in kept}
            for signal, by_id in callbacks.items()
        },
        "_func_cid_map": None,
        "_cid_gen": int(counter.group(1)),
    }
    return (_rebuild_callback_registry, (registry, state))


def _rebuild_callback_registry(registry: Any, state: dict[str, Any]) -> object:
    obj = registry.__new__(registry)
    obj.__setstate__(state)
    return obj
