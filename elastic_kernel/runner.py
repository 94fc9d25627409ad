"""Automated runs: execute a notebook with nbclient on the elastic kernel, checkpointing as it
goes, and resume a run that died from its last checkpoint without re-running finished cells.

Progress lives in the output notebook's metadata (``elastic_run``): which cells finished,
which of them the last checkpoint covers, and where that checkpoint is.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from elastic_kernel import config
from elastic_kernel.errors import CheckpointNotFound, ElasticError, RestoreError

__all__ = ["RunResult", "run_notebook"]

RUN_METADATA = "elastic_run"
KERNEL_NAME = "elastic"
KERNEL_POLL_SECONDS = 1.0


@dataclass
class RunResult:
    """What a run did."""

    output: Path
    ok: bool
    cells_run: int = 0
    cells_skipped: int = 0
    checkpoints: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def default_output(path: Path) -> Path:
    return path.with_name(f"{path.stem}.out.ipynb")


def run_notebook(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    store: str | None = None,
    checkpoint_every: int = 5,
    slow_seconds: float = 10.0,
    resume: bool = False,
    session: str | None = None,
    kernel_name: str = KERNEL_NAME,
    timeout: int | None = None,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Execute ``path`` on the elastic kernel, writing outputs to ``output`` after every cell.

    Parameters
    ----------
    path, output
        The notebook and where its executed copy goes (default ``<name>.out.ipynb``).
    store
        Checkpoint store URL (default: ``ELASTIC_STORE`` or the Jupyter data dir).
    checkpoint_every
        Checkpoint after every N code cells (0: only after slow cells and at the end).
    slow_seconds
        Also checkpoint right after any cell that ran longer than this, so slow work is
        never lost.
    resume
        Continue the run recorded in ``output``: restore its last checkpoint and run the
        cells after it; outputs of the cells it covers are kept.
    session
        Session key of the run's checkpoints (default: derived from the notebook's path).
    timeout
        Per-cell timeout in seconds (None: no limit).
    log
        Receives one line per step.
    """
    return asyncio.run(
        _run(
            Path(path),
            Path(output) if output is not None else default_output(Path(path)),
            store=store or config.default_store(),
            checkpoint_every=checkpoint_every,
            slow_seconds=slow_seconds,
            resume=resume,
            session=session or config.session_key_from(str(Path(path).resolve())),
            kernel_name=kernel_name,
            timeout=timeout,
            log=log or (lambda _line: None),
        )
    )


async def _run(
    path: Path,
    output: Path,
    *,
    store: str,
    checkpoint_every: int,
    slow_seconds: float,
    resume: bool,
    session: str,
    kernel_name: str,
    timeout: int | None,
    log: Callable[[str], None],
) -> RunResult:
    started = time.perf_counter()
    source = nbformat.read(path, as_version=4)
    state: dict[str, Any] = {"session": session, "store": store, "checkpointed_through": -1}
    nb = source
    if resume:
        if not output.exists():
            raise CheckpointNotFound(f"nothing to resume: {output} does not exist")
        nb = nbformat.read(output, as_version=4)
        state = dict(nb.metadata.get(RUN_METADATA) or {})
        if "checkpoint" not in state:
            raise CheckpointNotFound(
                f"{output} records no checkpoint to resume from; run again without --resume"
            )
        session, store = state["session"], state["store"]
    nb.metadata[RUN_METADATA] = state
    # nbformat copies dicts into its own node type: keep updating the stored one.
    state = nb.metadata[RUN_METADATA]
    result = RunResult(output=output, ok=False)
    code_cells = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    first = state.get("checkpointed_through", -1) + 1 if resume else 0
    env = dict(os.environ, ELASTIC_STORE=store, ELASTIC_SESSION=session)
    client = NotebookClient(
        nb,
        kernel_name=kernel_name,
        timeout=timeout,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    since_checkpoint = 0
    async with client.async_setup_kernel(env=env):
        if resume:
            log(f"restoring checkpoint {state['checkpoint']}")
            # Blocking: a failed restore must stop the run here, not at some later cell.
            await _magic(client, f"%restore {state['checkpoint']} --wait", RestoreError)
            result.cells_skipped = sum(1 for i in code_cells if i < first)
        for index in code_cells:
            if index < first:
                continue
            cell = nb.cells[index]
            log(f"cell {index}: {cell.source.splitlines()[0] if cell.source else ''}")
            cell_started = time.perf_counter()
            try:
                await client.async_execute_cell(cell, index)
                result.cells_run += 1
                since_checkpoint += 1
                state["completed_through"] = index
                is_slow = time.perf_counter() - cell_started >= slow_seconds
                if (checkpoint_every and since_checkpoint >= checkpoint_every) or is_slow:
                    await _checkpoint(client, state, index, result, log)
                    since_checkpoint = 0
            except (CellExecutionError, DeadKernelError) as exc:
                result.error = f"cell {index} failed: {exc}"
                _write(nb, output)
                result.seconds = time.perf_counter() - started
                return result
            _write(nb, output)
        if since_checkpoint:
            try:
                await _checkpoint(client, state, code_cells[-1], result, log)
            except DeadKernelError as exc:
                result.error = f"final checkpoint failed: {exc}"
                _write(nb, output)
                return result
    _write(nb, output)
    result.ok = True
    result.seconds = time.perf_counter() - started
    return result


async def _checkpoint(
    client: NotebookClient,
    state: dict[str, Any],
    index: int,
    result: RunResult,
    log: Callable[[str], None],
) -> None:
    text = await _magic(client, "%checkpoint", ElasticError)
    line = next((t for t in text.splitlines() if t.startswith("Checkpoint ")), "")
    url = line.split(" written to ", 1)[1].strip() if " written to " in line else None
    if url is None:
        raise ElasticError(f"checkpoint after cell {index} gave no location: {text!r}")
    state["checkpoint"] = url
    state["checkpointed_through"] = index
    result.checkpoints.append(url)
    log(f"checkpoint after cell {index}: {url}")


async def _magic(client: NotebookClient, code: str, error: type[ElasticError]) -> str:
    """Run one of the kernel's magics outside the notebook's cells; its text output."""
    chunks: list[str] = []

    def collect(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            chunks.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            chunks.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

    # An AsyncKernelClient and AsyncKernelManager once the kernel is set up.
    kc: Any = client.kc
    km: Any = client.km
    assert kc is not None and km is not None
    request = asyncio.ensure_future(
        kc.execute_interactive(code, store_history=False, output_hook=collect, timeout=None)
    )
    # A kernel that dies mid-checkpoint never replies: watch the process while waiting.
    while not request.done():
        await asyncio.wait({request}, timeout=KERNEL_POLL_SECONDS)
        if not request.done() and not await km.is_alive():
            request.cancel()
            raise DeadKernelError(f"the kernel died while running {code}")
    reply = request.result()
    text = "".join(chunks)
    if reply["content"]["status"] != "ok":
        raise error(f"{code} failed: {text.strip()}")
    return text


def _write(nb: nbformat.NotebookNode, output: Path) -> None:
    tmp = output.with_name(f".{output.name}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, output)
