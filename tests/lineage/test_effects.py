"""Effects of a cell: writes, processes and sockets are side effects; reads are file inputs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import xxhash

from elastic_kernel.lineage.effects import (
    EffectWatcher,
    FileInput,
    check_file_inputs,
    nondeterminism_reasons,
)


@pytest.fixture(scope="module")
def watcher() -> EffectWatcher:
    return EffectWatcher()


def test_write_is_a_side_effect(watcher: EffectWatcher, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with watcher.watch() as recording:
        target.write_text("a,b\n")
    assert f"wrote {target}" in recording.effects.side_effects
    assert recording.effects.file_inputs == ()


def test_append_and_os_open_are_writes(watcher: EffectWatcher, tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    raw = tmp_path / "raw.bin"
    with watcher.watch() as recording:
        with open(log, "a") as handle:
            handle.write("x")
        os.close(os.open(raw, os.O_CREAT | os.O_WRONLY))
    assert f"wrote {log}" in recording.effects.side_effects
    assert f"wrote {raw}" in recording.effects.side_effects


def test_read_is_a_file_input(watcher: EffectWatcher, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"hello")
    with watcher.watch() as recording:
        assert source.read_bytes() == b"hello"
    info = os.stat(source)
    expected = FileInput(str(source), 5, info.st_mtime_ns, xxhash.xxh3_128_hexdigest(b"hello"))
    assert recording.effects.file_inputs == (expected,)
    assert recording.effects.side_effects == ()


def test_relative_path_follows_chdir(
    watcher: EffectWatcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.txt").write_text("1")
    monkeypatch.chdir(tmp_path)
    with watcher.watch() as recording:
        os.chdir("sub")
        Path("data.txt").read_text()
    assert [f.path for f in recording.effects.file_inputs] == [str(tmp_path / "sub" / "data.txt")]


def test_file_ops_are_side_effects(watcher: EffectWatcher, tmp_path: Path) -> None:
    first = tmp_path / "a"
    first.write_text("x")
    with watcher.watch() as recording:
        os.rename(first, tmp_path / "b")
        os.remove(tmp_path / "b")
        os.mkdir(tmp_path / "d")
    effects = recording.effects.side_effects
    assert f"renamed {first} to {tmp_path / 'b'}" in effects
    assert f"removed {tmp_path / 'b'}" in effects
    assert f"created directory {tmp_path / 'd'}" in effects


def test_subprocess_is_a_side_effect(watcher: EffectWatcher) -> None:
    with watcher.watch() as recording:
        subprocess.run(["true"], check=True)
        os.system("true")
    assert "ran subprocess ['true']" in recording.effects.side_effects
    assert "ran shell command 'true'" in recording.effects.side_effects


def test_socket_connect_is_a_side_effect(watcher: EffectWatcher) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    address = server.getsockname()
    with watcher.watch() as recording:
        with socket.create_connection(address, timeout=5):
            pass
    server.close()
    assert f"connected to {address!r}" in recording.effects.side_effects


def test_imports_are_not_recorded(watcher: EffectWatcher, tmp_path: Path) -> None:
    (tmp_path / "elastic_probe_module.py").write_text("VALUE = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with watcher.watch() as recording:
            import elastic_probe_module  # type: ignore[import-not-found]

        assert elastic_probe_module.VALUE == 1
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("elastic_probe_module", None)
    assert recording.effects.file_inputs == ()
    assert not any("pycache" in effect for effect in recording.effects.side_effects)


def test_other_threads_are_ignored(watcher: EffectWatcher, tmp_path: Path) -> None:
    def write() -> None:
        (tmp_path / "from_thread.txt").write_text("x")

    with watcher.watch() as recording:
        thread = threading.Thread(target=write)
        thread.start()
        thread.join()
    assert recording.effects.side_effects == ()


def test_nothing_recorded_outside_watch(watcher: EffectWatcher, tmp_path: Path) -> None:
    with watcher.watch() as recording:
        pass
    (tmp_path / "after.txt").write_text("x")
    assert recording.effects.side_effects == ()


def test_check_file_inputs(tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_text("abc")
    gone = tmp_path / "gone.txt"
    gone.write_text("x")
    watcher = EffectWatcher(hash_limit=2**20)
    with watcher.watch() as recording:
        small.read_text()
        gone.read_text()
    inputs = recording.effects.file_inputs
    assert check_file_inputs(inputs) == []
    os.utime(small, ns=(0, 0))  # touched, same content: still the same input
    assert check_file_inputs(inputs) == []
    small.write_text("abd")
    gone.unlink()
    reasons = check_file_inputs(inputs)
    assert reasons == [
        f"input file {small} changed (content differs)",
        f"input file {gone} no longer exists",
    ]


def test_large_file_checked_by_size_and_mtime(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"0" * 100)
    with EffectWatcher(hash_limit=10).watch() as recording:
        big.read_bytes()
    (record,) = recording.effects.file_inputs
    assert record.digest is None
    big.write_bytes(b"1" * 101)
    assert check_file_inputs([record]) == [f"input file {big} changed (size or mtime differs)"]


def test_nondeterminism_reasons() -> None:
    assert nondeterminism_reasons({"os", "urandom"}) == ["os.urandom"]
    assert nondeterminism_reasons({"uuid", "uuid4"}) == ["uuid.uuid4"]
    assert nondeterminism_reasons({"time"}) == ["time.time (wall clock)"]
    assert nondeterminism_reasons({"datetime", "now"}) == ["datetime.now (wall clock)"]
    assert nondeterminism_reasons({"secrets", "token_hex"}) == [
        "secrets module",
        "secrets.token_hex",
    ]
    assert nondeterminism_reasons({"np", "random", "default_rng"}) == [
        "numpy Generator (seed unknown)"
    ]
    assert nondeterminism_reasons({"np", "random", "default_rng"}, seeded=True) == []
    assert nondeterminism_reasons({"random", "randint", "print", "len"}) == []
    assert nondeterminism_reasons({"name", "input"}) == ["input (what the user typed)"]


def test_exclusive_temp_file_created_and_removed_leaves_no_effect(tmp_path: Path) -> None:
    watcher = EffectWatcher()
    with watcher.watch() as rec:
        path = tmp_path / "probe"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.remove(path)
    assert rec.effects.side_effects == ()


def test_removing_a_file_that_existed_is_a_side_effect(tmp_path: Path) -> None:
    path = tmp_path / "kept"
    path.write_text("x")
    watcher = EffectWatcher()
    with watcher.watch() as rec:
        os.remove(path)
    assert any("removed" in e for e in rec.effects.side_effects)


def test_in_memory_sqlite_is_not_a_side_effect(tmp_path: Path) -> None:
    import sqlite3

    watcher = EffectWatcher()
    with watcher.watch() as rec:
        sqlite3.connect(":memory:").close()
    assert rec.effects.side_effects == ()
    with watcher.watch() as rec:
        sqlite3.connect(str(tmp_path / "db.sqlite")).close()
    assert any("sqlite3.connect" in e for e in rec.effects.side_effects)


def test_library_caches_are_neither_effects_nor_inputs(tmp_path: Path) -> None:
    # What the first `import matplotlib.pyplot` does on a machine: create its configuration
    # and cache directories and write its font list there.
    cache, config = tmp_path / "cache", tmp_path / "config" / "matplotlib"
    watcher = EffectWatcher(cache_roots=[str(cache), str(config)])
    elsewhere = tmp_path / "cachefile.txt"
    with watcher.watch() as recording:
        os.makedirs(config)
        os.mkdir(cache)
        (cache / "fontlist.json.tmp").write_text("{}")
        os.replace(cache / "fontlist.json.tmp", cache / "fontlist.json")
        (cache / "fontlist.json").read_text()
        elsewhere.write_text("x")
    assert recording.effects.side_effects == (f"wrote {elsewhere}",)
    assert recording.effects.file_inputs == ()


def test_inputs_under_the_working_directory_are_found_again_after_a_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, moved = tmp_path / "machine-a", tmp_path / "machine-b"
    (first / "data").mkdir(parents=True)
    (first / "data" / "in.csv").write_text("x\n1\n")
    monkeypatch.chdir(first)
    with EffectWatcher().watch() as recording:
        (first / "data" / "in.csv").read_text()
    (recorded,) = recording.effects.file_inputs
    assert recorded.relative == os.path.join("data", "in.csv")
    # The project moves to another directory (machine): the same content is accepted there.
    os.rename(first, moved)
    monkeypatch.chdir(moved)
    assert check_file_inputs([recorded]) == []
    (moved / "data" / "in.csv").write_text("x\n2\n")
    assert check_file_inputs([recorded]) == [
        f"input file {moved / 'data' / 'in.csv'} changed (content differs)"
    ]
