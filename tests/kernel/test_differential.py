"""The elastic kernel behaves exactly like the stock IPython kernel: the same cells give the same
IOPub messages and replies (ignoring ids, timings and anything that measures time)."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from tests.utils import ExecResult, execute, flush_iopub, start_kernel, stop_kernel

CELLS = [
    "1 + 1",
    "x = 5\nx",
    "print('hello'); print('err', file=__import__('sys').stderr)",
    "for i in range(3):\n    print(i)",
    "import math\nmath.pi",
    "def f(a, b=2):\n    '''doc of f'''\n    return a * b\nf(3)",
    "class C:\n    def __repr__(self):\n        return 'C()'\nC()",
    "from IPython.display import display, HTML, Markdown\ndisplay(HTML('<b>bold</b>'))",
    "display(Markdown('# title'), metadata={'k': 1})",
    "from IPython.display import Image\nimport base64",
    "h = display('first', display_id='d1')",
    "h.update('second')",
    "1/0",
    "raise ValueError('custom message')",
    "undefined_name_here",
    "def broken(:\n    pass",
    "%time y = sum(range(100))",
    "%%time\nz = [i * i for i in range(100)]",
    "%timeit -n 1 -r 1 sum(range(10))",
    "!echo from-shell",
    "files = !echo a b\nfiles",
    "%who_ls",
    "%%capture captured\nprint('captured text')",
    "captured.stdout",
    "_",
    "%%writefile scratch_diff.txt\nline one",
    "print(open('scratch_diff.txt').read())",
    "import os; os.remove('scratch_diff.txt')",
    "import warnings; warnings.warn('careful')",
    "{'a': [1, 2, {'b': None}]}",
    "None",
    "x;",
    "here = %pwd\nimport os\nos.path.basename(here)",
    "a, *b = [1, 2, 3]\nb",
    "import numpy as np\nnp.arange(6).reshape(2, 3)",
    "get_ipython().user_ns['injected'] = 7\ninjected",
    "assert False, 'assertion text'",
    # Our own parse of the cell and our reading of the generators must stay silent.
    "warnings.simplefilter('always')",
    "escaped = '\\q'",
    "assert (escaped, 1)",
    "np.random.set_bit_generator(np.random.PCG64(3))\nnp.random.rand(2).shape",
    "np.random.standard_normal(2).shape",
    # The launch directory holds a colorsys.py (see the fixture): the standard library wins.
    "import colorsys, sys\nhasattr(colorsys, 'SHADOWED'), [p for p in sys.path if 'cwd' in p]",
    # A class that counts every attribute access: monitoring must not run it.
    "class Counting:\n    def __init__(self):\n        self.items = [1]\n"
    "    def __getattribute__(self, name):\n        Counting.seen.append(name)\n"
    "        return object.__getattribute__(self, name)\n"
    "    __slots__ = ('__dict__', 'slot')\n"
    "Counting.seen = []\ncounting = Counting()\ncounting.slot = [2]\nCounting.seen",
    "Counting.seen.clear()\nmore = 1",
    "Counting.seen",
]

# IPython prints durations like "4 µs", "1.2 ms" and, for tiny ones, "1e+03 ns".
TIME_LIKE = re.compile(
    r"\d+(\.\d+)?(e[+-]?\d+)?\s*(ns|µs|μs|us|ms|s|min)\b|\d+:\d+|Wall time|CPU times"
)
HEX_ADDRESS = re.compile(r"0x[0-9a-f]+")
KERNEL_TMP = re.compile(r"ipykernel_\d+")


def normalize_text(text: str) -> str:
    text = KERNEL_TMP.sub("ipykernel_<pid>", text)
    return HEX_ADDRESS.sub("0x…", TIME_LIKE.sub("<time>", text))


def normalize(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: normalize(v)
            for k, v in value.items()
            if k
            not in {
                "msg_id",
                "date",
                "started",
                "transient",
                "engine",
                "engine_uuid",
                "execution_count",
            }
        }
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str):
        return normalize_text(value)
    return value


def summary(result: ExecResult) -> list[Any]:
    messages = [(m["msg_type"], normalize(m["content"])) for m in result.messages]
    reply = normalize(result.reply["content"])
    return [messages, reply]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, BlockingKernelClient]]:
    started: list[tuple[KernelManager, BlockingKernelClient]] = []
    try:
        clients = {}
        for name in ("python3", "elastic"):
            cwd = tmp_path_factory.mktemp(name) / "cwd"
            cwd.mkdir()
            (cwd / "colorsys.py").write_text("SHADOWED = True\n")
            # Autosave on (the users' default): the forked writer must never change an output.
            env = dict(os.environ, ELASTIC_AUTOSAVE="1", ELASTIC_STORE=str(cwd.parent / "store"))
            km, kc = start_kernel(name, cwd=str(cwd), env=env)
            started.append((km, kc))
            clients[name] = kc
        yield clients
    finally:
        for km, kc in started:
            stop_kernel(km, kc)


def test_kernel_info_matches(kernels: dict[str, BlockingKernelClient]) -> None:
    infos = {}
    for name, kc in kernels.items():
        kc.kernel_info()
        reply = kc.get_shell_msg(timeout=30)
        infos[name] = reply["content"]
    elastic, stock = dict(infos["elastic"]), dict(infos["python3"])
    assert elastic.pop("elastic")["version"]
    # IPython's banner ends with a random "Tip:" line.
    banners = [info.pop("banner").split("Tip:")[0] for info in (elastic, stock)]
    assert banners[0] == banners[1]
    assert elastic == stock


def test_same_outputs_cell_by_cell(kernels: dict[str, BlockingKernelClient]) -> None:
    assert len(CELLS) >= 30
    for cell in CELLS:
        results = {name: execute(kc, cell) for name, kc in kernels.items()}
        assert summary(results["elastic"]) == summary(results["python3"]), cell


def test_execution_counts_match(kernels: dict[str, BlockingKernelClient]) -> None:
    counts = {
        name: execute(kc, "0").reply["content"]["execution_count"] for name, kc in kernels.items()
    }
    assert counts["elastic"] == counts["python3"]


def test_input_with_allow_stdin(kernels: dict[str, BlockingKernelClient]) -> None:
    outputs = {}
    for name, kc in kernels.items():
        result = execute(
            kc,
            "answer = input('name? ')\nprint('got', answer)",
            allow_stdin=True,
            stdin_reply=lambda request: "alice",
        )
        assert result.ok, result.error
        outputs[name] = summary(result)
    assert outputs["elastic"] == outputs["python3"]
    assert "got alice" in execute(kernels["elastic"], "print('got', answer)").stdout


def test_completion_and_inspection(kernels: dict[str, BlockingKernelClient]) -> None:
    replies: dict[str, list[Any]] = {}
    for name, kc in kernels.items():
        execute(kc, "completion_target_value = 1")
        kc.complete("completion_target_v", 19)
        complete = kc.get_shell_msg(timeout=30)["content"]
        kc.inspect("f", 1)
        inspect = kc.get_shell_msg(timeout=30)["content"]
        replies[name] = [complete["matches"], complete["status"], normalize(inspect)]
    assert replies["elastic"] == replies["python3"]
    assert "completion_target_value" in replies["elastic"][0]


def test_completion_requests_are_not_recorded(kernels: dict[str, BlockingKernelClient]) -> None:
    kc = kernels["elastic"]
    before = execute(kc, "%elastic graph --json").stdout.count('"index"')
    kc.complete("comp", 4)
    kc.get_shell_msg(timeout=30)
    after = execute(kc, "%elastic graph --json").stdout.count('"index"')
    assert after == before


def test_interrupt_behaves_like_stock() -> None:
    names = []
    for name in ("python3", "elastic"):
        km, kc = start_kernel(name)
        try:
            msg_id = kc.execute("import time\nfor _ in range(600):\n    time.sleep(0.1)")
            # Wait until the cell is running before interrupting.
            while True:
                m = kc.get_iopub_msg(timeout=30)
                if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "execute_input":
                    break
            time.sleep(0.3)
            km.signal_kernel(signal.SIGINT)
            reply = kc.get_shell_msg(timeout=30)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = kc.get_shell_msg(timeout=30)
            names.append(reply["content"].get("ename"))
            flush_iopub(kc)
            assert execute(kc, "print('alive')").stdout == "alive\n"
        finally:
            stop_kernel(km, kc)
    assert names == ["KeyboardInterrupt", "KeyboardInterrupt"]
