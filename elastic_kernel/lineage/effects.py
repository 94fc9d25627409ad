"""External effects of a cell (file writes, processes, network) and the files it read.

Recorded with one process-wide ``sys.addaudithook`` hook: audit hooks cannot be removed, so it is
installed once and does nothing but a None check unless a :meth:`EffectWatcher.watch` is active.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import types
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from elastic_kernel.lineage.file_inputs import (
    HASH_LIMIT,
    FileInput,
    check_file_inputs,
    describe_file,
    recorded_input_changes,
)
from elastic_kernel.lineage.nondeterminism import nondeterminism_reasons

__all__ = [
    "CellEffects",
    "EffectWatcher",
    "FileInput",
    "Recording",
    "audit_hook_kind",
    "check_file_inputs",
    "interrupt_outside_audit_hook",
    "nondeterminism_reasons",
    "recorded_input_changes",
]

MAX_EVENTS = 10_000
"""Raw events kept per cell; past this the cell is marked as having unrecorded effects."""

INTERRUPT_RETRY_SECONDS = 0.005
"""Delay before an interrupt that arrived inside the audit hook is delivered again."""

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_IGNORED_SUFFIXES = (".py", ".pyc", ".pyo", ".so", ".pyd", ".pth", ".dylib")
_IGNORED_ROOTS = ("/proc/", "/dev/", "/sys/")
_PATH_EVENTS = {
    "os.remove": "removed",
    "os.rmdir": "removed directory",
    "os.mkdir": "created directory",
    "os.chmod": "changed mode of",
    "os.chown": "changed owner of",
    "os.truncate": "truncated",
    "os.utime": "touched",
    "shutil.rmtree": "removed tree",
    "shutil.make_archive": "made archive",
}
_TWO_PATH_EVENTS = {
    "os.rename": "renamed",
    "os.link": "linked",
    "os.symlink": "symlinked",
    "shutil.copyfile": "copied",
    "shutil.copytree": "copied tree",
    "shutil.move": "moved",
}
_PROCESS_EVENTS = {
    "subprocess.Popen": 1,
    "os.system": 0,
    "os.exec": 1,
    "os.spawn": 2,
    "os.posix_spawn": 1,
    "os.fork": -1,
    "os.forkpty": -1,
    "os.kill": 0,
    "os.killpg": 0,
}
_OTHER_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.sendto",
        "socket.bind",
        "http.client.connect",
        "urllib.Request",
        "sqlite3.connect",
        "webbrowser.open",
        "ftplib.connect",
        "smtplib.connect",
    }
)
_WATCHED = frozenset(
    {"open", "os.chdir"}
    | set(_PATH_EVENTS)
    | set(_TWO_PATH_EVENTS)
    | set(_PROCESS_EVENTS)
    | _OTHER_EVENTS
)


@dataclass(frozen=True, slots=True)
class CellEffects:
    """What a cell did outside the namespace.

    Attributes
    ----------
    side_effects
        Human-readable effects (``"wrote /tmp/x.csv"``, ``"ran subprocess ['ls']"``); a cell
        with any of them must not be re-run silently.
    file_inputs
        Files the cell read (imports and interpreter files excluded).
    """

    side_effects: tuple[str, ...] = ()
    file_inputs: tuple[FileInput, ...] = ()


class _Recorder:
    __slots__ = ("events", "overflow", "thread_id")

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.events: list[tuple[str, tuple[object, ...]]] = []
        self.overflow = 0


class _HookState:
    """The one recording the process-wide hook feeds (audit hooks are per process)."""

    active: _Recorder | None = None
    # "c" or "python" once installed.
    kind: str | None = None
    lock = threading.Lock()


_get_ident = threading.get_ident


def _audit_hook(event: str, args: tuple[object, ...]) -> None:
    # Runs for every audit event of the process (``id()``, ``sys._getframe()``...): the
    # cheapest test first.
    if event not in _WATCHED:
        return
    recorder = _HookState.active
    if recorder is None:
        return
    try:
        if _get_ident() != recorder.thread_id:
            return
        if len(recorder.events) < MAX_EVENTS:
            recorder.events.append((event, args))
        else:
            recorder.overflow += 1
    except Exception:  # an audit hook that raises aborts the user's operation
        return


def interrupt_outside_audit_hook(signum: int, frame: types.FrameType | None) -> None:
    """SIGINT handler: KeyboardInterrupt, as Python's default, except inside the audit hook.

    The hook is Python code that runs for audit events raised from native code, and Python
    handles a pending signal on entering it. A KeyboardInterrupt thrown there propagates into
    whatever native code raised the event; C++ extensions built with pybind11 (OR-Tools) then
    call std::terminate and the kernel dies. So inside the hook the interrupt is re-armed
    instead, a few milliseconds later (from a timer thread, so that it cannot fire again inside
    this handler): it is then raised at the next Python code that runs outside the hook, which
    is where the stock kernel would have raised it.
    """
    if frame is not None and frame.f_code is _audit_hook.__code__:
        timer = threading.Timer(
            INTERRUPT_RETRY_SECONDS, _thread.interrupt_main, args=(signal.Signals(signum),)
        )
        timer.daemon = True
        timer.start()
        return
    raise KeyboardInterrupt


def _install_hook() -> None:
    with _HookState.lock:
        if _HookState.kind is None:
            _HookState.kind = _add_hook()


def _add_hook() -> str:
    try:
        # Built from _audit_hook.c where a C compiler was there at install time.
        from elastic_kernel import _audit_hook as filtered
    except ImportError:
        sys.addaudithook(_audit_hook)
        return "python"
    filtered.install(_audit_hook, sorted(_WATCHED))
    return "c"


def audit_hook_kind() -> str | None:
    """``"c"`` when audit events are filtered in C before reaching :func:`_audit_hook`,
    ``"python"`` when every event of the process calls it, None before the first watcher."""
    return _HookState.kind


class Recording:
    """Handle returned by :meth:`EffectWatcher.watch`; ``effects`` is set when the block exits."""

    __slots__ = ("_effects",)

    def __init__(self) -> None:
        self._effects: CellEffects | None = None

    @property
    def effects(self) -> CellEffects:
        """Effects recorded during the ``with`` block (empty while it is still running)."""
        return self._effects if self._effects is not None else CellEffects()


class EffectWatcher:
    """Records the external effects of code run on one thread.

    Parameters
    ----------
    ignored_roots
        Extra directories whose files are never file inputs (besides ``sys.prefix``,
        ``sys.base_prefix``, site-packages, ``/proc``, ``/dev``, ``/sys``).
    hash_limit
        Files read that are smaller than this many bytes are content-hashed.
    cache_roots
        Directories where libraries keep caches they rebuild at will (``~/.cache``,
        matplotlib's font cache): files written, created or removed there are neither effects
        nor inputs. The first ``import matplotlib.pyplot`` on a machine creates them; counted
        as a side effect, it would forbid re-running the import cell and all that follows.
    """

    def __init__(
        self,
        ignored_roots: Iterable[str] = (),
        hash_limit: int = HASH_LIMIT,
        cache_roots: Iterable[str] = (),
    ) -> None:
        roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *ignored_roots}
        roots.update(path for path in sys.path if "site-packages" in path)
        self._roots = tuple(os.path.join(os.path.abspath(r), "") for r in roots if r)
        self._cache_dirs = frozenset(os.path.abspath(r) for r in cache_roots if r)
        self._cache_prefixes = tuple(os.path.join(r, "") for r in self._cache_dirs)
        self._hash_limit = hash_limit
        _install_hook()

    @contextmanager
    def watch(self) -> Iterator[Recording]:
        """Record effects of the calling thread until the block exits.

        Yields
        ------
        Recording
            Its ``effects`` attribute holds the :class:`CellEffects` after the block.
        """
        recording = Recording()
        recorder = _Recorder(_get_ident())
        cwd = os.getcwd()
        previous = _HookState.active
        _HookState.active = recorder
        try:
            yield recording
        finally:
            _HookState.active = previous
            recording._effects = self._summarize(recorder, cwd)

    def _summarize(self, recorder: _Recorder, cwd: str) -> CellEffects:
        start = cwd
        transient = _transient_files(recorder.events, cwd)
        effects: list[str] = []
        reads: list[str] = []
        written: set[str] = set()
        for event, args in recorder.events:
            if (
                transient
                and event in ("open", "os.remove")
                and _absolute(args[0], cwd) in transient
            ):
                continue
            if event == "os.chdir":
                cwd = _absolute(args[0], cwd) or cwd
            elif event == "open":
                path = _absolute(args[0], cwd)
                if path is None or self._is_ignored(path) or self._is_cache(path):
                    continue
                if _is_write(args[1], args[2]):
                    written.add(path)
                    effects.append(f"wrote {path}")
                else:
                    reads.append(path)
            elif event in _PATH_EVENTS:
                path = _absolute(args[0], cwd)
                if path is not None and (
                    self._is_cache(path) or (event == "os.mkdir" and self._holds_cache(path))
                ):
                    continue
                if path is not None:
                    written.add(path)
                effects.append(f"{_PATH_EVENTS[event]} {path or _short(args[0])}")
            elif event in _TWO_PATH_EVENTS:
                source, target = _absolute(args[0], cwd), _absolute(args[1], cwd)
                if source and target and self._is_cache(source) and self._is_cache(target):
                    continue
                written.update(p for p in (source, target) if p)
                effects.append(f"{_TWO_PATH_EVENTS[event]} {source} to {target}")
            elif event in _PROCESS_EVENTS:
                effects.append(_describe_process(event, args))
            elif not _is_private_database(event, args):
                effects.append(_describe_other(event, args))
        if recorder.overflow:
            effects.append(f"{recorder.overflow} more events not recorded")
        inputs = self._stat_inputs((path for path in reads if path not in written), start)
        return CellEffects(tuple(dict.fromkeys(effects)), tuple(inputs))

    def _is_ignored(self, path: str) -> bool:
        return path.endswith(_IGNORED_SUFFIXES) or path.startswith(_IGNORED_ROOTS + self._roots)

    def _is_cache(self, path: str) -> bool:
        # The roots themselves (created on first use) and everything under them.
        return path in self._cache_dirs or path.startswith(self._cache_prefixes)

    def _holds_cache(self, path: str) -> bool:
        # `~/.config`, made on the way to `~/.config/matplotlib` on a new machine.
        prefix = os.path.join(path, "")
        return any(root.startswith(prefix) for root in self._cache_dirs)

    def _stat_inputs(self, paths: Iterable[str], cwd: str) -> list[FileInput]:
        inputs: list[FileInput] = []
        under = os.path.join(cwd, "")
        for path in dict.fromkeys(paths):
            found = describe_file(path, self._hash_limit)
            if found is not None:
                if path.startswith(under):
                    found = replace(found, relative=os.path.relpath(path, cwd))
                inputs.append(found)
        return inputs


def _is_private_database(event: str, args: tuple[object, ...]) -> bool:
    """An in-memory sqlite database lives and dies with its connection: no external effect."""
    if event != "sqlite3.connect" or not args:
        return False
    target = args[0]
    if isinstance(target, bytes):
        target = target.decode(errors="replace")
    return isinstance(target, str) and (
        target in ("", ":memory:") or target.startswith("file::memory:")
    )


def _transient_files(events: Iterable[tuple[str, tuple[object, ...]]], cwd: str) -> set[str]:
    """Files the cell created exclusively (``O_CREAT | O_EXCL``) and removed again.

    Such a file did not exist before and does not exist after, so it leaves no effect:
    ``tempfile``'s probe of the temp directory is the common case.
    """
    created: set[str] = set()
    transient: set[str] = set()
    exclusive = os.O_CREAT | os.O_EXCL
    for event, args in events:
        if event == "os.chdir":
            cwd = _absolute(args[0], cwd) or cwd
        elif event == "open" and isinstance(args[2], int) and args[2] & exclusive == exclusive:
            path = _absolute(args[0], cwd)
            if path is not None:
                created.add(path)
        elif event == "os.remove":
            path = _absolute(args[0], cwd)
            if path in created:
                transient.add(path)
    return {path for path in transient if not os.path.lexists(path)}


def _absolute(path: object, cwd: str) -> str | None:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    elif isinstance(path, os.PathLike):
        path = os.fspath(path)
        if isinstance(path, bytes):
            path = os.fsdecode(path)
    if not isinstance(path, str):
        return None
    return os.path.normpath(os.path.join(cwd, path))


def _is_write(mode: object, flags: object) -> bool:
    if isinstance(flags, int):
        return bool(flags & _WRITE_FLAGS)
    return isinstance(mode, str) and any(c in mode for c in "wax+")


def _describe_process(event: str, args: tuple[object, ...]) -> str:
    position = _PROCESS_EVENTS[event]
    if position < 0:
        return f"forked a process ({event})"
    command = args[position] if position < len(args) else args
    if isinstance(command, bytes):
        command = os.fsdecode(command)
    if isinstance(command, tuple):
        command = list(command)
    if event in ("os.kill", "os.killpg"):
        return f"sent a signal to process {_short(args)}"
    verb = "ran shell command" if event == "os.system" else "ran subprocess"
    return f"{verb} {_short(command)}"


def _describe_other(event: str, args: tuple[object, ...]) -> str:
    if event.startswith("socket."):
        verb = {"socket.connect": "connected to", "socket.sendto": "sent data to"}
        return f"{verb.get(event, 'bound a socket to')} {_short(args[1])}"
    if event == "http.client.connect":
        return f"connected to {args[1]}:{args[2]}"
    if event == "urllib.Request":
        return f"requested {_short(args[0])}"
    return f"{event} {_short(args[0])}"


def _short(value: object, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
