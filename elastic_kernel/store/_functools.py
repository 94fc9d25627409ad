"""``functools`` decorators of notebook code.

``lru_cache`` (and ``cache``): the C wrapper pickles itself by name (``__main__.fib``), which a
new process cannot look up until the very variable being loaded exists. Such a wrapper is saved
as the function it wraps (by value, as cloudpickle saves notebook functions) plus its cache
parameters and attributes. Its cache starts empty after loading: the C type gives no access to
its entries, and a cache holds nothing a call cannot compute again.

``cached_property`` holds an ``RLock`` until Python 3.12, which made every class using it
unstorable. The lock only serializes the first computation in one process: a new one is made.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "rebuild_cached_property",
    "rebuild_lru_cache",
    "reduce_cached_property",
    "reduce_lru_cache",
]

_WRAPPER_TYPE = type(functools.lru_cache(maxsize=None)(len))


def rebuild_lru_cache(function: Callable[..., Any], maxsize: int | None, typed: bool) -> object:
    """The wrapper ``functools.lru_cache(maxsize, typed)`` makes of ``function``."""
    return functools.lru_cache(maxsize=maxsize, typed=typed)(function)


def _found_by_name(wrapper: object) -> bool:
    """Whether pickling by name finds ``wrapper`` again: its module is importable (not the
    notebook) and holds it under its qualified name."""
    module_name = getattr(wrapper, "__module__", None)
    qualname = getattr(wrapper, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str):
        return False
    if module_name == "__main__" or "<locals>" in qualname:
        return False
    module = sys.modules.get(module_name)
    if module is None:
        # Not imported here: pickle imports it by name at load, as for any library function.
        return True
    found: object = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return found is wrapper


def reduce_lru_cache(obj: object) -> tuple[object, ...] | Any:
    """``(rebuild_lru_cache, args, attributes)`` for a wrapper pickling by name would lose;
    ``NotImplemented`` for anything else."""
    if type(obj) is not _WRAPPER_TYPE or _found_by_name(obj):
        return NotImplemented
    wrapper: Any = obj
    parameters = wrapper.cache_parameters()
    return (
        rebuild_lru_cache,
        (wrapper.__wrapped__, parameters["maxsize"], parameters["typed"]),
        dict(vars(wrapper)),
    )


def rebuild_cached_property(function: Callable[..., Any], name: str | None, doc: object) -> object:
    """``functools.cached_property(function)`` as its class statement left it."""
    prop: Any = functools.cached_property(function)
    prop.attrname = name
    prop.__doc__ = doc
    return prop


def reduce_cached_property(obj: object) -> tuple[object, ...] | Any:
    """``(rebuild_cached_property, args)`` for a ``cached_property`` holding a lock (Python
    before 3.12); ``NotImplemented`` for anything else."""
    if type(obj) is not functools.cached_property or not hasattr(obj, "lock"):
        return NotImplemented
    return (rebuild_cached_property, (obj.func, obj.attrname, obj.__doc__))
