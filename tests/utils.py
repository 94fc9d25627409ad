"""Helpers that talk to real kernel processes through jupyter_client."""

from __future__ import annotations

import json
import os
import queue
import shutil
import sysconfig
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

TIMEOUT = 60.0


def c_compiler_available() -> bool:
    """Whether the compiler hatch_build.py uses is there (then the C audit hook was built)."""
    command = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return shutil.which(command.split()[0]) is not None


@dataclass
class ExecResult:
    """The reply to one execute_request and the IOPub messages it caused, in order."""

    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
        )

    @property
    def stderr(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
        )

    @property
    def ok(self) -> bool:
        return bool(self.reply["content"]["status"] == "ok")

    @property
    def error(self) -> dict[str, Any] | None:
        for m in self.messages:
            if m["msg_type"] == "error":
                return dict(m["content"])
        return None


def start_kernel(
    name: str = "elastic", *, cwd: str | None = None, env: dict[str, str] | None = None
) -> tuple[KernelManager, BlockingKernelClient]:
    """Start a kernel process from its installed kernelspec and wait until it answers."""
    km = KernelManager(kernel_name=name)
    kwargs: dict[str, Any] = {}
    if cwd is not None:
        kwargs["cwd"] = cwd
    if env is not None:
        kwargs["env"] = env
    km.start_kernel(**kwargs)
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
    except RuntimeError:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        raise
    return km, kc


def stop_kernel(km: KernelManager, kc: BlockingKernelClient) -> None:
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def flush_iopub(kc: BlockingKernelClient) -> None:
    while True:
        try:
            kc.get_iopub_msg(timeout=0.05)
        except queue.Empty:
            return


def execute(
    kc: BlockingKernelClient,
    code: str,
    **kwargs: Any,
) -> ExecResult:
    """Run ``code`` and collect its IOPub messages until the kernel is idle for this request.

    A request ipykernel aborted without running it is sent once more: after an error reply
    ipykernel aborts what reaches it in a short stop-on-error window, which a test client
    sending at once can hit (a user's next cell comes later). See :func:`execute_once`.
    """
    result = execute_once(kc, code, **kwargs)
    if result.reply["content"]["status"] == "aborted":
        result = execute_once(kc, code, **kwargs)
    return result


def execute_once(
    kc: BlockingKernelClient,
    code: str,
    *,
    timeout: float = TIMEOUT,
    allow_stdin: bool = False,
    stdin_reply: Callable[[dict[str, Any]], str] | None = None,
    silent: bool = False,
    store_history: bool = True,
    cell_id: str | None = None,
    seen: list[dict[str, Any]] | None = None,
) -> ExecResult:
    """Run ``code`` and collect its IOPub messages until the kernel is idle for this request;
    ``seen`` also receives every other IOPub message meanwhile (events, other parents)."""
    content_extra: dict[str, Any] = {}
    msg = kc.session.msg(
        "execute_request",
        {
            "code": code,
            "silent": silent,
            "store_history": store_history,
            "user_expressions": {},
            "allow_stdin": allow_stdin,
            "stop_on_error": False,
            **content_extra,
        },
    )
    if cell_id is not None:
        msg["metadata"]["cellId"] = cell_id
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    messages: list[dict[str, Any]] = []
    while True:
        if allow_stdin and stdin_reply is not None:
            try:
                request = kc.get_stdin_msg(timeout=0.01)
            except queue.Empty:
                pass
            else:
                kc.input(stdin_reply(request))
        try:
            m = kc.get_iopub_msg(timeout=timeout if not allow_stdin else 0.05)
        except queue.Empty as exc:
            if allow_stdin:
                continue
            raise TimeoutError(f"no output from the kernel within {timeout}s: {code!r}") from exc
        if seen is not None:
            seen.append(m)
        if m["parent_header"].get("msg_id") != msg_id:
            continue
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
        messages.append(m)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    return ExecResult(reply=reply, messages=messages)


def run_cells(kc: BlockingKernelClient, cells: Iterable[str]) -> list[ExecResult]:
    return [execute(kc, cell) for cell in cells]


def get_graph(kc: BlockingKernelClient) -> dict[str, Any]:
    """The AHG as ``%elastic graph --json`` prints it."""
    result = execute(kc, "%elastic graph --json")
    assert result.ok, result.error
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def last_execution(kc: BlockingKernelClient) -> dict[str, Any]:
    """The most recent recorded execution before the ``%elastic graph`` call."""
    executions = get_graph(kc)["executions"]
    return dict(executions[-1])


def version_names(versions: list[list[Any]]) -> set[str]:
    return {name for name, _ in versions}


ORACLE_EXPRESSION = (
    "__import__('tests.oracle', fromlist=['describe_json']).describe_json(get_ipython().user_ns)"
)


def evaluate_silently(
    kc: BlockingKernelClient, expressions: dict[str, str], *, timeout: float = TIMEOUT
) -> dict[str, Any]:
    """Evaluate user expressions in a silent request (the kernel records nothing); the raw
    ``user_expressions`` results by name."""
    msg = kc.session.msg(
        "execute_request",
        {
            "code": "",
            "silent": True,
            "store_history": False,
            "user_expressions": dict(expressions),
            "allow_stdin": False,
            "stop_on_error": False,
        },
    )
    kc.shell_channel.send(msg)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
        reply = kc.get_shell_msg(timeout=timeout)
    return dict(reply["content"]["user_expressions"])


def describe_session(kc: BlockingKernelClient) -> dict[str, Any]:
    """The oracle's description of the kernel's namespace (values and aliasing).

    Runs as a silent request with a user expression, so the kernel does not record it.
    """
    import ast

    result = evaluate_silently(kc, {"oracle": ORACLE_EXPRESSION})["oracle"]
    if result.get("status") != "ok":
        raise AssertionError(f"oracle failed in the kernel: {result}")
    data: dict[str, Any] = json.loads(ast.literal_eval(result["data"]["text/plain"]))
    return data


@dataclass
class Roundtrip:
    """A session run, checkpointed, and restored into a new kernel process."""

    before: dict[str, Any]
    after: dict[str, Any]
    checkpoint: ExecResult
    restore: ExecResult

    def problems(self) -> list[str]:
        from tests.oracle import compare

        return compare(self.before, self.after)


def checkpoint_session(
    cells: Iterable[str],
    env: dict[str, str],
    *,
    cwd: str | None = None,
    checkpoint: str = "%checkpoint",
    probe: str | None = None,
) -> tuple[ExecResult, str]:
    """Run ``cells`` in a fresh kernel, checkpoint, then run ``probe`` (if any) and stop the
    kernel: the checkpoint's output and what the probe printed."""
    km, kc = start_kernel(cwd=cwd, env=env)
    try:
        for cell in cells:
            result = execute(kc, cell)
            assert result.ok, (cell, result.error)
        saved = execute(kc, checkpoint)
        assert saved.ok, (saved.stdout, saved.stderr, saved.error)
        printed = execute(kc, probe).stdout if probe is not None else ""
    finally:
        stop_kernel(km, kc)
    return saved, printed


def roundtrip(
    cells: Iterable[str],
    *,
    store: str,
    cwd_before: str | None = None,
    cwd_after: str | None = None,
    checkpoint_args: str = "",
    session: str = "roundtrip",
) -> Roundtrip:
    """Run ``cells`` in one kernel, ``%checkpoint``, kill it, ``%restore`` in a fresh one."""
    env = dict(os.environ, ELASTIC_STORE=store, ELASTIC_SESSION=session)
    km, kc = start_kernel(cwd=cwd_before, env=env)
    try:
        for cell in cells:
            result = execute(kc, cell)
            if not result.ok and "# may fail" not in cell:
                raise AssertionError(f"cell failed: {cell!r}: {result.error}")
        saved = execute(kc, f"%checkpoint {checkpoint_args}".strip())
        if not saved.ok:
            raise AssertionError(f"checkpoint failed: {saved.stdout} {saved.stderr} {saved.error}")
        before = describe_session(kc)
    finally:
        stop_kernel(km, kc)
    km, kc = start_kernel(cwd=cwd_after, env=env)
    try:
        restored = execute(kc, "%restore")
        after = describe_session(kc)
    finally:
        stop_kernel(km, kc)
    return Roundtrip(before=before, after=after, checkpoint=saved, restore=restored)


def damaged_checkpoint(store: Path, session: str = "damaged") -> dict[str, Any]:
    """Checkpoint two recomputable lists (store-all), then flip a byte in every blob: a session
    whose stored groups all fail to load. Returns the oracle's description of it."""
    env = dict(os.environ, ELASTIC_STORE=str(store), ELASTIC_SESSION=session)
    km, kc = start_kernel(env=env)
    try:
        assert execute(kc, "numbers = list(range(5000))").ok
        assert execute(kc, "doubled = [n * 2 for n in numbers]").ok
        assert execute(kc, "%checkpoint --mode store-all").ok
        before = describe_session(kc)
    finally:
        stop_kernel(km, kc)
    for blob in (store / session / "blobs").iterdir():
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
    return before
