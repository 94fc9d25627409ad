"""The loading side of a background restore: stored groups unpickled and verified on a thread of
their own, in a planned order, into a private staging area (never the namespace).

Blobs are read ahead by the store's prefetcher (reading, decompressing and checksums release the
GIL). A cell that needs a group the thread has not started loads it on its own thread instead of
waiting behind whatever the thread is loading.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from elastic_kernel.lineage.module_state import Setting, import_modules
from elastic_kernel.lineage.modules import retrying_import_deadlocks
from elastic_kernel.restore import verify_values
from elastic_kernel.store import CheckpointStore, GroupPrefetcher, Manifest, deserialize_group

__all__ = [
    "APPLIED",
    "DONE",
    "FAILED",
    "LOADED",
    "RERUN",
    "WAITED_FOR",
    "GroupLoader",
    "LoadingGroup",
    "RestoreEvent",
]

log = logging.getLogger(__name__)


LOADED, APPLIED, WAITED_FOR, FAILED, RERUN, DONE = (
    "loaded",
    "applied",
    "waited-for",
    "failed",
    "rerun",
    "done",
)


@dataclass(frozen=True, slots=True)
class RestoreEvent:
    """One entry of the restore's event log (``time`` from ``time.monotonic``)."""

    time: float
    kind: str
    names: tuple[str, ...]


@dataclass(slots=True)
class LoadingGroup:
    """A stored linked group on its way into the namespace."""

    index: int
    names: tuple[str, ...]
    size: int
    ready: threading.Event = field(default_factory=threading.Event)
    values: dict[str, object] | None = None
    error: str | None = None
    is_applied: bool = False
    drifted: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()


class GroupLoader:
    """Loads ``groups`` of ``manifest`` on a thread, in ``order``.

    Parameters
    ----------
    store, manifest
        Where the groups come from.
    order
        The groups, in the order the thread loads them.
    wake
        Called (from whichever thread loaded it) after each group and at the end.
    delay
        Seconds to sleep before each group (tests only).
    """

    def __init__(
        self,
        store: CheckpointStore,
        manifest: Manifest,
        order: list[LoadingGroup],
        *,
        wake: Callable[[], None],
        delay: float = 0.0,
        settings: list[Setting] | None = None,
    ) -> None:
        self._store, self._manifest, self._order = store, manifest, order
        self._wake, self._delay = wake, delay
        # Library settings whose modules are not imported yet: the loading thread imports
        # those modules before its first group (so that a cell loading its own small group
        # does not wait for them) and sets ``settings_imported``; the main thread replays them.
        self._settings = settings or []
        self.settings_imported = threading.Event()
        self.notes: list[str] = []
        # Groups whose loading has begun, on the loading thread or another.
        self._taken: set[int] = set()
        self._reads: GroupPrefetcher | None = None
        self.lock = threading.Lock()
        self.events: list[RestoreEvent] = []
        self.loaded_all = threading.Event()
        self.seconds = 0.0
        self._thread = threading.Thread(
            target=self._load_all, name=f"elastic-restore-{manifest.checkpoint_id}", daemon=True
        )

    def start(self) -> None:
        self._reads = self._store.prefetch(self._manifest, [g.index for g in self._order])
        self._thread.start()

    def record(self, kind: str, names: Iterable[str]) -> None:
        with self.lock:
            self.events.append(RestoreEvent(time.monotonic(), kind, tuple(sorted(names))))

    def promote(self, groups: Iterable[LoadingGroup]) -> None:
        """Read these groups' blobs ahead of the others."""
        if self._reads is not None:
            self._reads.promote(g.index for g in groups)

    def claim(self, group: LoadingGroup) -> bool:
        """Whether the caller is the one to load ``group`` (nobody has begun it)."""
        with self.lock:
            if group.index in self._taken:
                return False
            self._taken.add(group.index)
            return True

    def load_apart(self, group: LoadingGroup) -> None:
        """Load a claimed ``group`` on a thread of its own, at once; the caller waits for
        ``group.ready``.

        Never on the caller's (main) thread: an interrupt landing in an import there would leave
        a half-imported package behind, and could leave importlib's lock on that module held, so
        that every later import of it (on the loading thread too) waits forever.
        """
        threading.Thread(
            target=self._load, args=(group,), name="elastic-restore-claimed", daemon=True
        ).start()

    def _load_all(self) -> None:
        assert self._reads is not None
        try:
            self.notes.extend(import_modules(self._settings))
        finally:
            self.settings_imported.set()
        with self._reads:
            for group in self._order:
                if self.claim(group):
                    self._load(group)
        self.loaded_all.set()
        self._wake()

    def _unpickle(self, index: int) -> dict[str, object]:
        reads = self._reads
        assert reads is not None
        return retrying_import_deadlocks(lambda: deserialize_group(reads.take(index)))

    def _load(self, group: LoadingGroup) -> None:
        if self._delay:
            time.sleep(self._delay)
        started = time.perf_counter()
        try:
            values = self._unpickle(group.index)
            drifted, unverified = verify_values(values, self._manifest, group.names)
        except Exception as exc:
            # A boundary: whatever went wrong, the main thread reports it and falls back as a
            # blocking restore would.
            log.warning("background restore: group %s failed", group.names, exc_info=True)
            with self.lock:
                group.error = f"{type(exc).__name__}: {exc}"
                self.events.append(RestoreEvent(time.monotonic(), FAILED, group.names))
        else:
            with self.lock:
                group.values = values
                group.drifted, group.unverified = tuple(drifted), tuple(unverified)
                self.events.append(RestoreEvent(time.monotonic(), LOADED, group.names))
        with self.lock:
            self.seconds += time.perf_counter() - started
        group.ready.set()
        self._wake()
