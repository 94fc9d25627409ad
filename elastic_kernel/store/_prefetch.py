"""Reading groups ahead of their unpickling.

Reading a blob, decompressing it and checking its xxh3 sum all release the GIL; unpickling (and
the imports it triggers) holds it. A thread that reads the next groups while the current one is
unpickled overlaps the two, which is most of a restore's time on large sessions. Reads ahead are
bounded in bytes, so a restore never holds much more than it is about to use; not in groups: a
background restore takes its small groups first, and a bound of 8 groups kept the two 200 MB
groups behind them waiting while the first group's unpickling imported scikit-learn, so they
were read only when needed (0.8 s of a 2.2 s restore).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType

from ._serialize import SerializedGroup

__all__ = ["DEFAULT_AHEAD_BYTES", "GroupPrefetcher"]

DEFAULT_AHEAD_BYTES = 512 << 20


class GroupPrefetcher:
    """Reads groups on a thread, in a given order that callers may change, ahead of ``take``.

    Parameters
    ----------
    read
        Reads and checks one group by index (runs on the prefetch thread, or on the caller's
        thread for a group the thread has not started).
    order
        Group indices in the order they will probably be taken.
    sizes
        Bytes of each group, to bound what is read ahead.
    ahead_bytes
        At most this many bytes read and not yet taken (a group larger than that is still read
        once nothing else is waiting).
    """

    def __init__(
        self,
        read: Callable[[int], SerializedGroup],
        order: Sequence[int],
        sizes: Mapping[int, int],
        *,
        ahead_bytes: int = DEFAULT_AHEAD_BYTES,
    ) -> None:
        self._read = read
        self._queue = list(order)
        self._sizes = sizes
        self._ahead_bytes = ahead_bytes
        self._done: dict[int, SerializedGroup | BaseException] = {}
        self._reading: set[int] = set()
        self._held = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="elastic-prefetch", daemon=True)
        self._thread.start()

    def __enter__(self) -> GroupPrefetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def promote(self, indices: Iterable[int]) -> None:
        """Read these groups next (those not read or being read yet), in the given order."""
        with self._cond:
            queued = set(self._queue)
            wanted = [i for i in dict.fromkeys(indices) if i in queued]
            first = set(wanted)
            self._queue = wanted + [i for i in self._queue if i not in first]

    def take(self, index: int) -> SerializedGroup:
        """Group ``index``, read: at once if read ahead, after the read if under way, else read
        here. Raises what the read raised."""
        with self._cond:
            while index in self._reading:
                self._cond.wait()
            if index in self._done:
                result = self._done.pop(index)
                self._held -= self._sizes.get(index, 0)
                self._cond.notify_all()
                if isinstance(result, BaseException):
                    raise result
                return result
            if index in self._queue:
                self._queue.remove(index)
        return self._read(index)

    def close(self) -> None:
        """Stop reading ahead and drop what was read and not taken."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._done.clear()
            self._cond.notify_all()
        self._thread.join()

    def _has_room(self) -> bool:
        if not self._done:
            return True
        return self._held + self._sizes.get(self._queue[0], 0) <= self._ahead_bytes

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not (self._queue and self._has_room()):
                    self._cond.wait()
                if self._closed:
                    return
                index = self._queue.pop(0)
                self._reading.add(index)
            result: SerializedGroup | BaseException
            try:
                result = self._read(index)
            except BaseException as exc:
                # Handed to whoever takes the group, on that thread.
                result = exc
            with self._cond:
                self._reading.discard(index)
                if not self._closed:
                    self._done[index] = result
                    self._held += self._sizes.get(index, 0)
                self._cond.notify_all()
