"""AHG content recorded by a real elastic kernel: reads, writes, deletes, rebinds, errors,
function globals, magics and shell escapes."""

from __future__ import annotations

from jupyter_client.blocking.client import BlockingKernelClient

from tests.utils import execute, get_graph, last_execution, version_names


def run(kc: BlockingKernelClient, code: str, *, ok: bool = True) -> dict[str, object]:
    result = execute(kc, code)
    assert result.ok is ok, result.error
    return last_execution(kc)


def test_write_then_read_creates_versions(kernel: BlockingKernelClient) -> None:
    first = run(kernel, "a1 = 10\nb1 = [1, 2]")
    assert version_names(first["writes"]) == {"a1", "b1"}  # type: ignore[arg-type]
    second = run(kernel, "c1 = a1 + len(b1)")
    assert ["a1", first["index"]] in second["reads"]  # type: ignore[operator]
    assert ["b1", first["index"]] in second["reads"]  # type: ignore[operator]
    assert version_names(second["writes"]) == {"c1"}  # type: ignore[arg-type]


def test_in_place_mutation_is_a_write(kernel: BlockingKernelClient) -> None:
    run(kernel, "lst2 = [1]\nd2 = {'k': 1}")
    e = run(kernel, "lst2.append(2)\nd2['k'] += 1")
    assert version_names(e["writes"]) == {"lst2", "d2"}  # type: ignore[arg-type]


def test_read_only_cell_writes_nothing(kernel: BlockingKernelClient) -> None:
    run(kernel, "big3 = list(range(1000))")
    e = run(kernel, "print(sum(big3))")
    assert e["writes"] == []
    assert "big3" in version_names(e["reads"])  # type: ignore[arg-type]


def test_delete_and_rebind(kernel: BlockingKernelClient) -> None:
    run(kernel, "x4 = 1\ny4 = [0]")
    e = run(kernel, "del x4\ny4 = [1]")
    assert e["deletes"] == ["x4"]
    assert version_names(e["writes"]) == {"y4"}  # type: ignore[arg-type]
    live = {name for name, _ in get_graph(kernel)["live"]}
    assert "x4" not in live and "y4" in live


def test_alias_mutation_writes_both_names(kernel: BlockingKernelClient) -> None:
    run(kernel, "p5 = [1]\nq5 = p5")
    e = run(kernel, "p5.append(2)")
    assert {"p5", "q5"} <= version_names(e["writes"])  # type: ignore[arg-type]


def test_function_globals_are_read_transitively(kernel: BlockingKernelClient) -> None:
    run(
        kernel,
        "rate6 = 0.5\ndef helper6(v):\n    return v * rate6\ndef outer6(v):\n    return helper6(v)",
    )
    e = run(kernel, "r6 = outer6(4)")
    reads = version_names(e["reads"])  # type: ignore[arg-type]
    assert {"outer6", "helper6", "rate6"} <= reads


def test_function_mutating_global_is_recorded(kernel: BlockingKernelClient) -> None:
    run(
        kernel,
        "count7 = 0\nacc7 = []\ndef bump7():\n    global count7\n    count7 += 1\n    acc7.append(count7)",
    )
    e = run(kernel, "bump7()")
    assert {"count7", "acc7"} <= version_names(e["writes"])  # type: ignore[arg-type]


def test_cell_with_error_records_partial_writes(kernel: BlockingKernelClient) -> None:
    e = run(kernel, "before8 = 1\nraise ValueError('boom')\nafter8 = 2", ok=False)
    assert e["ok"] is False
    assert "error" in e["flags"]  # type: ignore[operator]
    assert version_names(e["writes"]) == {"before8"}  # type: ignore[arg-type]


def test_time_magic_cell(kernel: BlockingKernelClient) -> None:
    run(kernel, "def f9():\n    return 42")
    e = run(kernel, "%time x9 = f9()")
    assert "x9" in version_names(e["writes"])  # type: ignore[arg-type]
    assert "f9" in version_names(e["reads"])  # type: ignore[arg-type]
    cell = run(kernel, "%%time\ny9 = x9 + 1")
    assert "y9" in version_names(cell["writes"])  # type: ignore[arg-type]
    assert "x9" in version_names(cell["reads"])  # type: ignore[arg-type]


def test_shell_escape_is_a_side_effect(kernel: BlockingKernelClient) -> None:
    e = run(kernel, "!echo hello")
    assert "side_effect" in e["flags"]  # type: ignore[operator]
    e = run(kernel, "out10 = !echo hi")
    assert "out10" in version_names(e["writes"])  # type: ignore[arg-type]
    assert "side_effect" in e["flags"]  # type: ignore[operator]


def test_eval_falls_back_to_every_variable(kernel: BlockingKernelClient) -> None:
    run(kernel, "z11 = [1]")
    e = run(kernel, "eval('z11.append(2)')")
    assert "z11" in version_names(e["writes"])  # type: ignore[arg-type]
    assert "z11" in version_names(e["reads"])  # type: ignore[arg-type]


def test_silent_and_no_history_requests_are_not_recorded(kernel: BlockingKernelClient) -> None:
    before = len(get_graph(kernel)["executions"])
    execute(kernel, "hidden12 = 1", silent=True)
    execute(kernel, "hidden12b = 1", store_history=False)
    after = get_graph(kernel)["executions"]
    # The kernel's own magics (%elastic graph) are not recorded either.
    assert len(after) == before


def test_cell_id_and_metadata_recorded(kernel: BlockingKernelClient) -> None:
    result = execute(kernel, "cid13 = 1", cell_id="abc-123")
    assert result.ok
    e = last_execution(kernel)
    assert e["cell_id"] == "abc-123"
    assert e["code"].startswith("cid13")  # type: ignore[attr-defined]
    assert e["duration"] >= 0  # type: ignore[operator]
    assert isinstance(e["execution_count"], int)


def test_graph_text_lists_cells(kernel: BlockingKernelClient) -> None:
    run(kernel, "text14 = 'value'")
    out = execute(kernel, "%elastic graph").stdout
    assert "Application History Graph" in out
    assert "text14 = 'value'" in out
    assert "text14@" in out


def test_big_value_too_costly_to_check_is_assumed_modified(kernel: BlockingKernelClient) -> None:
    # 16 MB: hashing it would cost more than 5% of a trivial cell, so a cell touching it
    # marks it written (a false positive the graph shows as such), never silently unchanged.
    run(kernel, "import numpy as np\nbig13 = np.ones(2_000_000)\nsmall13 = [1, 2]")
    e = run(kernel, "s13 = float(big13.sum()) + len(small13)")
    assert version_names(e["writes"]) == {"s13", "big13"}  # type: ignore[arg-type]
    assert any("assumed modified" in n and "big13" in n for n in e["notes"])  # type: ignore[attr-defined]
    # A real in-place write is recorded either way; the small list is still checked exactly.
    e = run(kernel, "big13[0] = 5.0")
    assert "big13" in version_names(e["writes"])  # type: ignore[arg-type]
    e = run(kernel, "t13 = small13[0]")
    assert version_names(e["writes"]) == {"t13"}  # type: ignore[arg-type]


def test_unrecorded_execution_is_not_attributed_to_the_next_cell(
    kernel: BlockingKernelClient,
) -> None:
    # The recorder reuses a cell's final snapshot as the next cell's "before" only while no
    # unrecorded code ran in between.
    run(kernel, "a14 = 1")
    assert execute(kernel, "b14 = a14 + 1", silent=True).ok
    assert execute(kernel, "c14 = 3", store_history=False).ok
    e = run(kernel, "d14 = 4")
    assert version_names(e["writes"]) == {"d14"}  # type: ignore[arg-type]
