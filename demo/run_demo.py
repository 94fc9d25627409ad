"""`make demo`: run the bundled notebook on the elastic kernel, checkpoint, kill the kernel,
restore into a new kernel process, verify every variable and alias, and print the timings."""

from __future__ import annotations

import ast
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.oracle import compare  # noqa: E402

console = Console(highlight=False)
ORACLE = "__import__('tests.oracle', fromlist=['describe_json']).describe_json(get_ipython().user_ns)"


def start(env: dict[str, str]) -> tuple[KernelManager, BlockingKernelClient]:
    km = KernelManager(kernel_name="elastic")
    km.start_kernel(env=env, cwd=str(ROOT / "demo"))
    kc = km.blocking_client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def run(kc: BlockingKernelClient, code: str, *, show: bool = True) -> tuple[float, dict[str, Any]]:
    def hook(msg: dict[str, Any]) -> None:
        if not show:
            return
        content = msg["content"]
        if msg["msg_type"] == "stream":
            console.out(content["text"], end="")
        elif msg["msg_type"] in ("execute_result", "display_data"):
            console.out(content["data"].get("text/plain", ""))
        elif msg["msg_type"] == "error":
            console.out("\n".join(content["traceback"]))

    started = time.perf_counter()
    reply = kc.execute_interactive(code, timeout=600, output_hook=hook)
    return time.perf_counter() - started, reply["content"]


def describe(kc: BlockingKernelClient) -> dict[str, Any]:
    reply = kc.execute_interactive("", silent=True, user_expressions={"o": ORACLE}, timeout=120)
    text = reply["content"]["user_expressions"]["o"]["data"]["text/plain"]
    return dict(json.loads(ast.literal_eval(text)))


def main() -> int:
    notebook = nbformat.read(ROOT / "demo" / "demo.ipynb", as_version=4)
    cells = [c.source for c in notebook.cells if c.cell_type == "code"]
    with tempfile.TemporaryDirectory(prefix="elastic-demo-") as tmp:
        env = dict(
            os.environ,
            ELASTIC_STORE=str(Path(tmp) / "store"),
            ELASTIC_SESSION="demo",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        console.rule("[bold]1. Run demo/demo.ipynb on the elastic kernel")
        km, kc = start(env)
        cell_times = []
        for source in cells:
            console.print(f">>> {source.splitlines()[0]}", style="dim", markup=False)
            seconds, reply = run(kc, source)
            cell_times.append(seconds)
            if reply["status"] != "ok":
                console.print("[red]demo cell failed[/red]")
                return 1
        console.rule("[bold]2. The replication plan (%elastic plan)")
        run(kc, "%elastic plan")
        console.rule("[bold]3. Checkpoint (%checkpoint)")
        checkpoint_seconds, reply = run(kc, "%checkpoint")
        if reply["status"] != "ok":
            return 1
        before = describe(kc)
        console.rule("[bold]4. Kill the kernel (SIGKILL) and start a new process")
        pid = km.provisioner.pid if km.provisioner else None
        km.signal_kernel(signal.SIGKILL)
        kc.stop_channels()
        km.cleanup_resources()
        console.print(f"killed kernel process {pid}")
        started = time.perf_counter()
        km, kc = start(env)
        boot_seconds = time.perf_counter() - started
        console.rule("[bold]5. Restore into the new kernel (%restore)")
        restore_seconds, reply = run(kc, "%restore")
        # The restore goes on in the background; a cell reading everything waits for all of it.
        rest_seconds, _ = run(kc, "len(globals())")
        full_seconds = restore_seconds + rest_seconds
        after = describe(kc)
        problems = compare(before, after)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    console.rule("[bold]6. Verified and timed")
    if reply["status"] != "ok" or problems:
        console.print("[red]restore did not reproduce the session:[/red]")
        for line in problems:
            console.print(f"  {line}")
        return 1
    console.print(
        f"every variable equal and every alias kept: {len(before['values'])} variables, "
        f"{len(before['aliases'])} aliases, {len(before['shared_memory'])} shared-memory pairs"
    )
    rerun_all = sum(cell_times)
    table = Table("step", "seconds", "vs re-running the notebook")
    table.add_row("re-run every cell (what you do today)", f"{rerun_all:.2f}", "1.00x")
    table.add_row("checkpoint", f"{checkpoint_seconds:.2f}", f"{checkpoint_seconds / rerun_all:.2f}x")
    table.add_row("new kernel start", f"{boot_seconds:.2f}", "")
    table.add_row(
        "restore: %restore returns, cells can run",
        f"{restore_seconds:.2f}",
        f"{restore_seconds / rerun_all:.2f}x",
    )
    table.add_row(
        "restore: every variable back (incl. imports)",
        f"{full_seconds:.2f}",
        f"{full_seconds / rerun_all:.2f}x",
    )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
