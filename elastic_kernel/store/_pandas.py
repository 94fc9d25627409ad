"""pandas objects that share data under copy-on-write stay copy-on-write after loading.

pandas 3 lets ``other = df.rename(...)`` or ``col = df["a"]`` share ``df``'s arrays lazily: the
blocks that share values are linked by one ``BlockValuesRefs``, and the first in-place write to
any of them copies. Pickling keeps the shared arrays shared (one memo) but drops the links, so
after loading an in-place write to one frame silently changes the other. Here every block (or
single-block manager) whose values are shared is reduced with ONE placeholder per original
``BlockValuesRefs``, and loading links the rebuilt blocks of a placeholder together again.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["PandasReducer"]


class _RefsToken:
    """Stands for one set of blocks sharing values, in a pickle stream (memoized: one per set).

    ``refs`` is filled while loading with the ``BlockValuesRefs`` of the first rebuilt block.
    """

    __slots__ = ("refs",)

    def __init__(self) -> None:
        self.refs: Any = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_RefsToken, ())


def _relink(rebuild: Any, args: tuple[Any, ...], state: Any, tokens: tuple[_RefsToken, ...]) -> Any:
    """Rebuild a block or manager from its own reduction, then link its blocks to the others
    of their sharing sets (inverse of ``PandasReducer.reduce``)."""
    obj = rebuild(*args)
    if state is not None:
        obj.__setstate__(state)
    blocks = obj.blocks if hasattr(obj, "blocks") else (obj,)
    for block, token in zip(blocks, tokens, strict=True):
        if token.refs is None:
            token.refs = block.refs
        elif block.refs is not token.refs:
            token.refs.add_reference(block)
            block.refs = token.refs
    return obj


def _is_shared(block: Any) -> bool:
    refs = getattr(block, "refs", None)
    return refs is not None and bool(refs.has_reference())


class PandasReducer:
    """Reduces the pandas blocks and managers of one pickle call that share values with other
    pandas objects; ``NotImplemented`` for anything else (they pickle as pandas says)."""

    def __init__(self) -> None:
        self._tokens: dict[int, _RefsToken] = {}
        # The refs objects must outlive the pickle call: tokens are keyed by their id.
        self._keep: list[object] = []
        # Looked up once per pickle call: the reducer sees every object of the stream.
        blocks = sys.modules.get("pandas._libs.internals")
        managers = sys.modules.get("pandas.core.internals.managers")
        self._block: type | None = getattr(blocks, "Block", None)
        self._manager: type | None = getattr(managers, "BaseBlockManager", None)

    def _token(self, block: Any) -> _RefsToken:
        refs = block.refs
        token = self._tokens.get(id(refs))
        if token is None:
            token = self._tokens[id(refs)] = _RefsToken()
            self._keep.append(refs)
        return token

    def reduce(self, obj: object) -> Any:
        if self._block is None or self._manager is None:
            return NotImplemented
        if isinstance(obj, self._block):
            blocks: tuple[Any, ...] = (obj,)
        elif isinstance(obj, self._manager):
            blocks = tuple(getattr(obj, "blocks", ()))
        else:
            return NotImplemented
        if not any(_is_shared(b) for b in blocks):
            return NotImplemented
        reduced = obj.__reduce_ex__(5)
        if not isinstance(reduced, tuple) or len(reduced) < 2 or any(reduced[3:]):
            return NotImplemented
        state = reduced[2] if len(reduced) > 2 else None
        tokens = tuple(self._token(b) for b in blocks)
        return (_relink, (reduced[0], reduced[1], state, tokens))
