"""External effects, file inputs, random generators and the "every variable" fallback, as a real
elastic kernel records them (issue 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient

from tests.utils import (
    c_compiler_available,
    evaluate_silently,
    execute,
    get_graph,
    last_execution,
    version_names,
)


def run(kc: BlockingKernelClient, code: str, *, ok: bool = True) -> dict[str, object]:
    result = execute(kc, code)
    assert result.ok is ok, (code, result.error)
    return last_execution(kc)


def flags(execution: dict[str, object]) -> list[str]:
    return execution["flags"]  # type: ignore[return-value]


def names(execution: dict[str, object], key: str) -> set[str]:
    return version_names(execution[key])  # type: ignore[arg-type]


def test_file_write_is_a_side_effect(kernel: BlockingKernelClient, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    e = run(kernel, f"with open({str(target)!r}, 'w') as fx1:\n    fx1.write('a,b\\n')")
    assert "side_effect" in flags(e)
    assert any(str(target) in note for note in e["notes"])  # type: ignore[attr-defined]


def test_pandas_to_csv_is_a_side_effect(kernel: BlockingKernelClient, tmp_path: Path) -> None:
    target = tmp_path / "frame.csv"
    run(kernel, "import pandas as pd\nfx2 = pd.DataFrame({'a': [1]})")
    e = run(kernel, f"fx2.to_csv({str(target)!r})")
    assert "side_effect" in flags(e)
    assert any(str(target) in note for note in e["notes"])  # type: ignore[attr-defined]


def test_file_read_is_a_file_input(kernel: BlockingKernelClient, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_text("hello")
    e = run(kernel, f"fx3 = open({str(source)!r}).read()")
    assert "side_effect" not in flags(e)
    inputs = e["extra"]["file_inputs"]  # type: ignore[index]
    assert [i["path"] for i in inputs] == [str(source)]
    assert inputs[0]["size"] == 5 and inputs[0]["digest"]


def test_pandas_read_csv_is_a_file_input(kernel: BlockingKernelClient, tmp_path: Path) -> None:
    source = tmp_path / "data.csv"
    source.write_text("a,b\n1,2\n")
    run(kernel, "import pandas as pd")
    e = run(kernel, f"fx4 = pd.read_csv({str(source)!r})")
    paths = [i["path"] for i in e["extra"].get("file_inputs", [])]  # type: ignore[attr-defined]
    assert str(source) in paths
    assert "side_effect" not in flags(e)


def test_subprocess_and_remove_are_side_effects(
    kernel: BlockingKernelClient, tmp_path: Path
) -> None:
    victim = tmp_path / "gone.txt"
    victim.write_text("x")
    e = run(kernel, f"import os\nos.remove({str(victim)!r})")
    assert "side_effect" in flags(e)
    e = run(kernel, "import subprocess\nfx5 = subprocess.run(['true']).returncode")
    assert "side_effect" in flags(e)


@pytest.mark.parametrize(
    "code",
    [
        "import uuid\nfx6 = uuid.uuid4()",
        "import time\nfx7 = time.time()",
        "import os\nfx8 = os.urandom(4)",
        "import secrets\nfx9 = secrets.token_hex(4)",
        "import datetime\nfx10 = datetime.datetime.now()",
        "import numpy as np\nfx11 = np.random.default_rng().random()",
        "import numpy as np, scipy.sparse.linalg as sl\n"
        "fx_eig = sl.eigsh(np.diag(np.arange(1.0, 20.0)), k=2, return_eigenvectors=False)",
    ],
    ids=["uuid4", "time", "urandom", "secrets", "now", "unseeded_generator", "arpack"],
)
def test_unreplayable_sources_are_nondeterministic(kernel: BlockingKernelClient, code: str) -> None:
    e = run(kernel, code)
    assert "nondeterministic" in flags(e)


SEARCH = (
    "from sklearn.datasets import load_iris\nfrom sklearn.model_selection import {}\n"
    "from sklearn.neighbors import KNeighborsClassifier\nX, y = load_iris(return_X_y=True)\n"
)


@pytest.mark.parametrize(
    "code",
    [
        SEARCH.format("GridSearchCV")
        + "fx_grid = GridSearchCV(KNeighborsClassifier(), {'n_neighbors': [1, 3]}, cv=3)\n"
        "fx_grid.fit(X, y)",
        SEARCH.format("GridSearchCV")
        + "fx_grids = {'knn': GridSearchCV(KNeighborsClassifier(), {'n_neighbors': [1]},"
        " cv=2, refit=False).fit(X, y)}",
        SEARCH.format("cross_validate") + "fx_cv = cross_validate(KNeighborsClassifier(), X, y)",
    ],
    ids=["grid_search", "grid_search_in_a_dict", "cross_validate"],
)
def test_values_holding_measured_times_are_nondeterministic(
    kernel: BlockingKernelClient, code: str
) -> None:
    """A search's cv_results_ holds fit and score times: a re-run measures others, so the
    restore would report the value as different. The cell is never re-run; its values are
    stored."""
    e = run(kernel, code)
    assert "nondeterministic" in flags(e)
    assert any("holds times measured while the cell ran" in note for note in e["notes"]), e


def test_what_the_user_typed_is_nondeterministic(kernel: BlockingKernelClient) -> None:
    """A restore re-runs cells with no one to answer input(): the cell must be stored."""
    result = execute(
        kernel, "fx_typed = input('name? ')", allow_stdin=True, stdin_reply=lambda _: "ada"
    )
    assert result.ok, result.error
    assert "nondeterministic" in flags(last_execution(kernel))


def test_nondeterminism_through_user_function(kernel: BlockingKernelClient) -> None:
    run(kernel, "import uuid\ndef fx12():\n    return uuid.uuid4().hex")
    e = run(kernel, "fx12_v = fx12()")
    assert "nondeterministic" in flags(e)


@pytest.mark.parametrize(
    "code",
    [
        "import time\ntime.sleep(0.01)\nfx13 = 1",
        "import numpy as np\nfx14 = np.random.default_rng(42).random()",
        "import random\nfx15 = random.Random(7).random()",
    ],
    ids=["sleep", "seeded_generator", "seeded_random"],
)
def test_replayable_cells_are_deterministic(kernel: BlockingKernelClient, code: str) -> None:
    e = run(kernel, code)
    assert "nondeterministic" not in flags(e)


@pytest.mark.parametrize(
    "code",
    [
        "import random\nfx16 = random.random()",
        "import random\nfx17 = [1, 2, 3]\nrandom.shuffle(fx17)",
        "import numpy as np\nfx18 = np.random.rand(3)",
        "import numpy as np\nfx19 = np.random.permutation(5)",
    ],
    ids=["random", "shuffle", "np_rand", "np_permutation"],
)
def test_global_generator_draw_records_state(kernel: BlockingKernelClient, code: str) -> None:
    execute(kernel, "import numpy, random")
    e = run(kernel, code)
    assert isinstance(e["extra"].get("rng"), str)  # type: ignore[attr-defined]
    assert "nondeterministic" not in flags(e)


def test_library_draw_without_naming_random(kernel: BlockingKernelClient) -> None:
    """scikit-learn without random_state draws from numpy's global generator."""
    run(kernel, "import numpy as np\nfrom sklearn.model_selection import train_test_split")
    e = run(kernel, "fx20 = train_test_split(np.arange(10), test_size=0.3)")
    assert isinstance(e["extra"].get("rng"), str)  # type: ignore[attr-defined]


def test_no_draw_records_no_rng(kernel: BlockingKernelClient) -> None:
    run(kernel, "import numpy as np")
    e = run(kernel, "fx21 = np.arange(3) * 2")
    assert "rng" not in e["extra"]  # type: ignore[operator]


def test_import_is_not_a_side_effect(fresh_kernel: BlockingKernelClient) -> None:
    e = run(fresh_kernel, "import numpy\nimport pandas")
    assert "side_effect" not in flags(e)
    assert "nondeterministic" not in flags(e)
    # Some imports draw from `random` (harmless: a re-run replays the captured state), so
    # whether "rng" is recorded for this cell depends on the libraries' versions.


def test_import_and_draw_in_one_cell_is_flagged(fresh_kernel: BlockingKernelClient) -> None:
    """numpy's global generator is seeded from the OS when numpy is first imported: a cell
    that imports it and draws cannot be replayed unless it seeds."""
    e = run(fresh_kernel, "import numpy as np\nfx22 = np.random.rand(2)")
    assert "nondeterministic" in flags(e)
    seeded = run(fresh_kernel, "np.random.seed(0)\nfx23 = np.random.rand(2)")
    assert "nondeterministic" not in flags(seeded)


@pytest.mark.parametrize(
    "code",
    [
        "eval('fx30_a')",
        "exec('fx30_b = fx30_a')",
        "globals()['fx30_c'] = 1",
        "locals()",
        "vars()",
        "get_ipython().user_ns['fx30_d'] = 2",
        "setattr(__import__('sys').modules['__main__'], 'fx30_e', 3)",
        "%run -n {script}",
    ],
    ids=["eval", "exec", "globals", "locals", "vars", "user_ns", "setattr_main", "run_magic"],
)
def test_dynamic_cells_consider_every_variable(
    kernel: BlockingKernelClient, code: str, tmp_path: Path
) -> None:
    script = tmp_path / "empty.py"
    script.write_text("")
    run(kernel, "fx30_a = [1]\nfx30_unrelated = {'k': 2}")
    e = run(kernel, code.replace("{script}", str(script)))
    assert {"fx30_a", "fx30_unrelated"} <= names(e, "reads")


def test_ordinary_cells_read_only_what_they_name(kernel: BlockingKernelClient) -> None:
    run(kernel, "fx31_a = [1]\nfx31_b = 2\nfx31_c = {'k': 3}")
    e = run(kernel, "fx31_d = len(fx31_a) + fx31_b")
    assert {n for n in names(e, "reads") if n.startswith("fx31")} == {"fx31_a", "fx31_b"}
    assert names(e, "writes") == {"fx31_d"}
    # A function call reads what the function reads, nothing more.
    run(kernel, "def fx31_f():\n    return fx31_c['k']")
    e = run(kernel, "fx31_e = fx31_f()")
    assert {n for n in names(e, "reads") if n.startswith("fx31")} == {"fx31_f", "fx31_c"}


def test_setattr_on_main_module_is_caught(kernel: BlockingKernelClient) -> None:
    run(kernel, "fx32 = 1")
    e = run(kernel, "import sys\nsetattr(sys.modules['__main__'], 'fx32', 2)")
    assert "fx32" in names(e, "writes")


def test_user_module_import_touching_main(kernel: BlockingKernelClient, tmp_path: Path) -> None:
    """A local module may reach ``__main__``: importing it must not hide its writes."""
    (tmp_path / "fx33_mod.py").write_text(
        "import __main__\n__main__.fx33_data.append(1)\n__main__.fx33_new = 5\n"
    )
    run(kernel, f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nfx33_data = []")
    e = run(kernel, "import fx33_mod")
    assert {"fx33_data", "fx33_new"} <= names(e, "writes")


def test_generator_state_between_cells_is_reused_and_refreshed_after_unseen_draws(
    fresh_kernel: BlockingKernelClient,
) -> None:
    """Each cell starts from the state the previous one ended with, unless something ran in
    between (here a silent request drawing a number): replaying a cell's recorded state gives
    the number it drew."""
    kc = fresh_kernel
    for code in ("import random", "rz1 = 1", "rz2 = random.random()", "rz3 = 2"):
        assert execute(kc, code).ok, code
    assert evaluate_silently(kc, {"d": "random.random()"})["d"]["status"] == "ok"
    assert execute(kc, "rz4 = random.random()").ok
    executions = {e["code"].strip(): e for e in get_graph(kc)["executions"]}
    assert "rng" not in executions["rz3 = 2"]["extra"], list(executions)
    for name in ("rz2", "rz4"):
        state = executions[f"{name} = random.random()"]["extra"]["rng"]
        replay = (
            "from elastic_kernel.lineage.rng import RngState, restore_rng_state\n"
            f"restore_rng_state(RngState.from_json({state!r}))\n"
            f"print(random.random() == {name})"
        )
        assert execute(kc, replay).stdout == "True\n", name


def test_status_says_how_effects_are_watched(kernel: BlockingKernelClient) -> None:
    import json

    data = json.loads(execute(kernel, "%elastic status --json").stdout)
    text = execute(kernel, "%elastic status").stdout
    expected = "c" if c_compiler_available() else "python"
    assert data["audit_hook"] == expected
    line = "audit events filtered in C" if expected == "c" else "audit hook in Python"
    assert f"effects:         {line}" in text
