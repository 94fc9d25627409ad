"""The ``elastic`` comm target: ops and reply format of DESIGN.md, through a real kernel."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from tests.utils import TIMEOUT, execute, flush_iopub


def open_comm(kc: BlockingKernelClient) -> str:
    comm_id = uuid.uuid4().hex
    kc.shell_channel.send(
        kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "elastic", "data": {}})
    )
    return comm_id


def request(kc: BlockingKernelClient, comm_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Send one request on the comm and wait for the reply carrying its id."""
    data = {"id": uuid.uuid4().hex, **data}
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["msg_type"] != "comm_msg" or msg["content"]["comm_id"] != comm_id:
            continue
        reply: dict[str, Any] = msg["content"]["data"]
        if reply.get("id") == data["id"]:
            return reply


@pytest.fixture
def comm(kernel: BlockingKernelClient, tmp_path: Any) -> tuple[BlockingKernelClient, str]:
    execute(kernel, f"%config ElasticKernel.store = {str(tmp_path)!r}")
    return kernel, open_comm(kernel)


def test_status(comm: tuple[BlockingKernelClient, str]) -> None:
    kc, comm_id = comm
    execute(kc, "status_var = [1, 2]")
    reply = request(kc, comm_id, {"op": "status"})
    assert reply["op"] == "status" and reply["ok"] is True
    result = reply["result"]
    assert {"store", "session_key", "cells", "live_variables", "last_checkpoint"} <= set(result)
    assert result["live_variables"] >= 1


def test_checkpoint_plan_restore(comm: tuple[BlockingKernelClient, str], tmp_path: Any) -> None:
    kc, comm_id = comm
    execute(
        kc, "comm_plain = {'k': 1}\ncomm_data = list(range(10))\ncomm_gen = (i for i in comm_data)"
    )
    plan = request(kc, comm_id, {"op": "plan", "url": str(tmp_path)})
    assert plan["ok"], plan
    assert "comm_data" in plan["result"]["text"]
    assert plan["result"]["html"].startswith("<")
    # store-all: whether a cheap list is stored or recomputed depends on the disk's speed.
    saved = request(kc, comm_id, {"op": "checkpoint", "url": str(tmp_path), "mode": "store-all"})
    assert saved["ok"], saved
    assert "comm_plain" in saved["result"]["stored"]
    # The generator iterates over comm_data: linked, so both are recomputed together.
    assert {"comm_gen", "comm_data"} <= set(saved["result"]["recomputed"])
    execute(kc, "comm_data.append(99)")
    restored = request(kc, comm_id, {"op": "restore", "url": str(tmp_path)})
    assert restored["ok"], restored
    assert restored["result"]["ok"] is True
    assert execute(kc, "print(comm_data[-1])").stdout == "9\n"


def test_unknown_op_and_errors_have_the_documented_shape(
    comm: tuple[BlockingKernelClient, str], tmp_path: Any
) -> None:
    kc, comm_id = comm
    reply = request(kc, comm_id, {"op": "fly"})
    assert reply["ok"] is False
    assert reply["error"]["type"] == "UnknownOp"
    missing = request(kc, comm_id, {"op": "restore", "url": str(tmp_path / "empty")})
    assert missing["ok"] is False
    assert missing["error"]["type"] == "CheckpointNotFound"
    assert "no checkpoint" in missing["error"]["message"]


def test_request_during_a_running_cell_is_answered_after_it(
    comm: tuple[BlockingKernelClient, str],
) -> None:
    kc, comm_id = comm
    kc.execute("import time\ntime.sleep(1)\nslow_done = True")
    reply = request(kc, comm_id, {"op": "status"})
    assert reply["ok"]
    assert execute(kc, "print(slow_done)").stdout == "True\n"


def wait_for_event(kc: BlockingKernelClient, event: str) -> dict[str, Any]:
    """The data of the next ``elastic.events`` comm the kernel opens for ``event``."""
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        content = msg["content"]
        if msg["msg_type"] == "comm_open" and content.get("target_name") == "elastic.events":
            data: dict[str, Any] = content["data"]
            if data.get("event") == event:
                return data


def test_kernel_sends_events_to_frontends(kernel: BlockingKernelClient) -> None:
    flush_iopub(kernel)
    kernel.execute("from elastic_kernel.comm import notify\nnotify('probe', names=['a'], n=1)")
    data = wait_for_event(kernel, "probe")
    assert data == {"event": "probe", "names": ["a"], "n": 1}


def test_config_magic_reaches_the_kernel(kernel: BlockingKernelClient, tmp_path: Any) -> None:
    execute(kernel, f"%config ElasticKernel.store = {str(tmp_path)!r}")
    execute(kernel, "%config ElasticKernel.alpha = 3.5")
    comm_id = open_comm(kernel)
    result = request(kernel, comm_id, {"op": "status"})["result"]
    assert result["store"] == str(tmp_path)
    assert result["alpha"] == 3.5
