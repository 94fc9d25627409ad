"""Checkpoint in one kernel process, restore in a new one (another working directory), and
check every variable and alias with the oracle."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.oracle import compare
from tests.utils import (
    checkpoint_session,
    describe_session,
    execute,
    roundtrip,
    start_kernel,
    stop_kernel,
)

SCENARIOS: dict[str, list[str]] = {
    "numpy views and shared buffers": [
        "import numpy as np\nbase = np.arange(100.0)\nview = base[10:50:2]\nmat = base.reshape(10, 10)",
        "holder = {'v': view, 'list': [base]}\nview[0] = -1",
    ],
    "overlapping views of an array no variable holds": [
        "import numpy as np\nd = np.arange(1000.0)",
        "e = d[1:3]\nd = [4, 7]",
        "a = e[1:]\nback = e[::-1]",
    ],
    "load_digits data and images share one buffer": [
        "from sklearn.datasets import load_digits\ndigits = load_digits()\nX, images = digits.data, digits.images",
        "X[0, 0] = 99.0",
    ],
    "pandas in-place edits": [
        "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', 'z']})",
        "df.loc[df['a'] > 1, 'a'] = 0\ndf['c'] = df['a'] * 2\ndf.sort_values('b', ascending=False, inplace=True)",
        "cat = df['b'].astype('category')\nidx = pd.MultiIndex.from_product([[1, 2], ['u', 'v']])",
    ],
    "sklearn fitted pipeline": [
        "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\nfrom sklearn.linear_model import LogisticRegression\nfrom sklearn.datasets import load_iris",
        "iris = load_iris()\npipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(iris.data, iris.target)",
        "score = pipe.score(iris.data, iris.target)",
    ],
    "closures and classes from __main__": [
        "class Counter:\n    def __init__(self):\n        self.n = 0\n        self._hidden = []\n    def bump(self):\n        self.n += 1\n        return self.n",
        "c = Counter()\nc.bump()\nc._hidden.append(c.n)",
        "def make_adder(k):\n    def add(x):\n        return x + k\n    return add\nadd3 = make_adder(3)\nsquare = lambda v: v * v",
        "results = [add3(1), square(4), c.bump()]",
    ],
    "aliases across containers (transitive links)": [
        "a = [1, 2]\nb = {'x': a}\nc = [b, 'tail']\nd = c",
        "a.append(3)",
    ],
    "unserializable generator is recomputed": [
        "data = list(range(10))",
        "gen = (x * 2 for x in data)",
        "total = sum(data)",
    ],
    "seeded and unseeded random cells": [
        "import random\nrandom.seed(7)\nseeded = [random.random() for _ in range(3)]",
        "import numpy as np\nnp.random.seed(1)\nlegacy = np.random.rand(3)",
        "rng = np.random.default_rng(42)\ngenerated = rng.normal(size=4)",
        "unseeded = random.random()",
    ],
    "cell with a file side effect": [
        "import os, tempfile, pathlib\npath = os.path.join(tempfile.mkdtemp(), 'out.txt')\nwritten = pathlib.Path(path).write_text('hello')",
        "size = os.path.getsize(path)",
    ],
    "cell that raised an exception": [
        "before_error = [1]\nraise RuntimeError('boom')  # may fail",
        "after_error = before_error + [2]",
    ],
    "deleted and rebound names": [
        "x = [1]\ny = x\nz = 5",
        "del x\ny = [2]\nz += 1",
    ],
    "magics and shell escapes": [
        "%time timed = sum(range(1000))",
        "%%capture captured\nprint('inside')",
        "listing = !echo one two",
    ],
    "objects whose attribute access raises": [
        "class Guarded:\n    def __init__(self):\n        object.__setattr__(self, 'items', [1])\n    def __getattribute__(self, name):\n        if name == 'items':\n            return object.__getattribute__(self, name)\n        raise RuntimeError('no ' + name)\nguarded = Guarded()\nitems = guarded.items",
        "items.append(2)\nguarded.extra = 3",
    ],
    "slotted and local classes defined in the notebook": [
        "import dataclasses\n@dataclasses.dataclass(frozen=True, slots=True)\nclass Frozen:\n    x: int\n    tags: list\nfrozen = Frozen(1, ['t'])",
        "def make_local():\n    class Local:\n        def __init__(self):\n            self.v = [1]\n    return Local()\nlocal = make_local()",
    ],
    "nested containers with cycles": [
        "cyc = [1]\ncyc.append(cyc)\nnest = {'k': {'k2': [cyc, (1, 2)]}}\ns = {1, 2, 3}\nfs = frozenset({'a', 'b'})",
    ],
    "stride-trick windows and the global generators": [
        "import numpy as np, random, scipy.stats as st\nfrom numpy.lib.stride_tricks import sliding_window_view, as_strided\nbase = np.arange(20.0)\nwin = sliding_window_view(base, 4)\npairs = as_strided(base, shape=(10, 2), strides=(16, 8))",
        "base[3] = -1.0\ndraw = random.random\nrand = np.random.rand\ndist = st.norm(loc=1, scale=2)\nq = dist.ppf(0.9)",
    ],
    "functools decorators in the notebook": [
        "import functools\n@functools.lru_cache(maxsize=16)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nf20 = fib(20)",
        "class Circle:\n    def __init__(self, r):\n        self.r = r\n    @functools.cached_property\n    def area(self):\n        return 3 * self.r ** 2\nc = Circle(2)\na = c.area",
        "@functools.singledispatch\ndef show(x):\n    return 'obj'\n@show.register\ndef _(x: int):\n    return 'int'\nshown = (show(1), show('a'))",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_roundtrip_is_identical(name: str, tmp_path: Path) -> None:
    before_dir, after_dir = tmp_path / "machine-a", tmp_path / "machine-b"
    before_dir.mkdir()
    after_dir.mkdir()
    result = roundtrip(
        SCENARIOS[name],
        store=str(tmp_path / "store"),
        cwd_before=str(before_dir),
        cwd_after=str(after_dir),
    )
    assert result.restore.ok, (result.restore.stdout, result.restore.stderr, result.restore.error)
    assert result.problems() == []


@pytest.mark.slow
def test_functools_decorated_code_is_stored_and_loads(tmp_path: Path) -> None:
    """A notebook lru_cache function pickled by a name a new process cannot look up (its
    group failed to load and was re-run), and cached_property's lock made its class
    unstorable: both are stored and loaded now."""
    result = roundtrip(
        SCENARIOS["functools decorators in the notebook"],
        store=str(tmp_path),
        checkpoint_args="--mode store-all",
    )
    stored = next(
        line for line in result.checkpoint.stdout.splitlines() if line.startswith("  stored")
    )
    assert {"Circle", "c", "fib"} <= set(stored.split(": ", 1)[1].split(", ")), stored
    report = result.restore.stdout + result.restore.stderr
    assert result.restore.ok and "could not load" not in report, report
    assert result.problems() == []


@pytest.mark.slow
def test_generator_is_recomputed_not_stored(tmp_path: Path) -> None:
    result = roundtrip(SCENARIOS["unserializable generator is recomputed"], store=str(tmp_path))
    recompute_line = next(
        line for line in result.checkpoint.stdout.splitlines() if line.startswith("  recompute")
    )
    assert "gen" in recompute_line
    assert result.after["values"]["gen"] == ["generator", "<genexpr>"]


@pytest.mark.slow
def test_unseeded_random_value_is_stored_exactly(tmp_path: Path) -> None:
    result = roundtrip(SCENARIOS["seeded and unseeded random cells"], store=str(tmp_path))
    assert result.before["values"]["unseeded"] == result.after["values"]["unseeded"]


@pytest.mark.slow
def test_lost_variable_is_named_and_the_rest_restored(tmp_path: Path) -> None:
    """An open append-mode file made by a cell with side effects can be neither stored nor
    recomputed: the checkpoint says so up front and the restore reports it, not success."""
    cells = [
        "import os, tempfile\npath = os.path.join(tempfile.mkdtemp(), 'out.txt')\nfh = open(path, 'a')\nfh.write('hello')",
        "kept = [1, 2, 3]",
    ]
    result = roundtrip(cells, store=str(tmp_path))
    assert "LOST" in result.checkpoint.stdout and "fh" in result.checkpoint.stdout
    assert not result.restore.ok
    assert result.restore.error is not None
    assert result.restore.error["ename"] == "RestoreError"
    assert "fh" in result.restore.error["evalue"]
    assert "fh" not in result.after["values"]
    assert result.after["values"]["kept"] == result.before["values"]["kept"]
    assert result.after["values"]["path"] == result.before["values"]["path"]


@pytest.mark.slow
def test_group_that_fails_to_load_is_recomputed(tmp_path: Path) -> None:
    """A corrupted blob of a recomputable group: restore re-runs its cell and says so."""
    import os

    from tests.utils import (
        damaged_checkpoint,
        describe_session,
        execute,
        start_kernel,
        stop_kernel,
    )

    store = tmp_path / "store"
    env = dict(os.environ, ELASTIC_STORE=str(store), ELASTIC_SESSION="damaged")
    before = damaged_checkpoint(store)
    km, kc = start_kernel(env=env)
    try:
        # What %restore itself reports: wait for the whole restore.
        restored = execute(kc, "%restore --wait")
        after = describe_session(kc)
    finally:
        stop_kernel(km, kc)
    assert restored.ok, (restored.stdout, restored.stderr)
    assert "failed to load; recomputed instead" in restored.stdout
    from tests.oracle import compare

    assert compare(before, after) == []


@pytest.mark.slow
def test_rerun_all_recreates_classes_and_annotations_exactly(tmp_path: Path) -> None:
    """Re-running cells must compile them like IPython does (not with the kernel module's own
    ``from __future__ import annotations``), or functions and classes come back different."""
    cells = [
        "class Point:\n    def __init__(self, x: int) -> None:\n        self.x = x",
        "def scale(p: Point, k: float = 2.0) -> float:\n    return p.x * k",
        "pts = [Point(i) for i in range(3)]\nscaled = [scale(p) for p in pts]",
    ]
    result = roundtrip(cells, store=str(tmp_path), checkpoint_args="--mode rerun-all")
    assert result.restore.ok, (result.restore.stdout, result.restore.stderr)
    assert "re-running cells [1], [2], [3]" in result.checkpoint.stdout
    assert result.problems() == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["background", "blocking"])
def test_rerun_compiles_each_statement_like_ipython(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A function defined in the cell that imports what it calls, a cell with top-level
    ``await``, and a function annotated under an earlier cell's ``from __future__`` import
    (IPython keeps it for later cells) all come back identical when re-run from inside the
    kernel's event loop."""
    monkeypatch.setenv("ELASTIC_RESTORE", mode)
    cells = [
        "import math\ndef root(v):\n    return math.sqrt(v)\nr = root(16.0)",
        "import asyncio\nasync def fetch():\n    await asyncio.sleep(0)\n    return [1, 2]\n"
        "fetched = await fetch()\nafter_await = fetched + [3]",
        "from __future__ import annotations",
        "def typed(v: Later) -> Later:\n    return v\nhints = typed.__annotations__",
    ]
    result = roundtrip(cells, store=str(tmp_path), checkpoint_args="--mode rerun-all")
    assert result.restore.ok, (result.restore.stdout, result.restore.stderr, result.restore.error)
    assert "re-running cells [1], [2], [3], [4]" in result.checkpoint.stdout
    assert "hints" in result.after["values"]
    assert result.problems() == []


@pytest.mark.slow
def test_recomputed_figures_and_partials_pass_verification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blocking restore checks every recomputed value against its checkpoint fingerprint:
    an inline figure (drawn and closed after its cell) and a partial built again must match,
    or the restore reports them as lost."""
    monkeypatch.setenv("ELASTIC_RESTORE", "blocking")
    cells = [
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
        "ax.plot([1, 2])\nax.set_title('t')",
        "import functools\nclicks = []\nrecord = functools.partial(clicks.append, 1)\nrecord()",
    ]
    result = roundtrip(cells, store=str(tmp_path), checkpoint_args="--mode rerun-all")
    assert result.restore.ok, (result.restore.stdout, result.restore.stderr, result.restore.error)
    assert "re-running cells [1], [2]" in result.checkpoint.stdout
    assert result.problems() == []


@pytest.mark.slow
def test_cells_whose_input_files_change_are_not_rerun(tmp_path: Path) -> None:
    data = tmp_path / "input.txt"
    data.write_text("first")
    # The second cell rewrites the file the first one read: re-running the first would give
    # another value, so even rerun-all must store `text`.
    cells = [
        f"text = open({str(data)!r}).read()",
        f"import pathlib\npathlib.Path({str(data)!r}).write_text('second')",
    ]
    result = roundtrip(
        cells,
        store=str(tmp_path / "s1"),
        checkpoint_args="--mode rerun-all",
    )
    stored_line = next(line for line in result.checkpoint.stdout.splitlines() if "stored" in line)
    assert "text" in stored_line
    assert result.restore.ok and result.problems() == []


@pytest.mark.slow
def test_rerun_refused_when_the_input_file_is_gone(tmp_path: Path) -> None:
    import os

    from tests.utils import execute, start_kernel, stop_kernel

    data = tmp_path / "input.txt"
    data.write_text("payload")
    env = dict(os.environ, ELASTIC_STORE=str(tmp_path / "store"), ELASTIC_SESSION="inputs")
    km, kc = start_kernel(env=env)
    try:
        assert execute(kc, f"text = open({str(data)!r}).read()").ok
        assert execute(kc, "%checkpoint --mode rerun-all").ok
    finally:
        stop_kernel(km, kc)
    data.unlink()
    km, kc = start_kernel(env=env)
    try:
        # What %restore itself reports: wait for the whole restore.
        restored = execute(kc, "%restore --wait")
    finally:
        stop_kernel(km, kc)
    assert not restored.ok
    assert "refused to re-run" in restored.stderr and "no longer exists" in restored.stderr


@pytest.mark.slow
def test_draws_from_another_global_bit_generator_replay_on_rerun(tmp_path: Path) -> None:
    """`np.random.set_bit_generator(PCG64())`: recording neither fails nor prints a warning in
    the user's cells, and re-running the drawing cells reproduces their values."""
    cells = [
        "import numpy as np\nnp.random.set_bit_generator(np.random.PCG64(11))",
        "drawn = np.random.rand(3)",
        "more = np.random.standard_normal(3)",
    ]
    km, kc = start_kernel(env=dict(os.environ, ELASTIC_STORE=str(tmp_path / "quiet")))
    try:
        outputs = [execute(kc, cell) for cell in cells]
        assert all(o.ok and o.stdout == "" and o.stderr == "" for o in outputs), outputs
    finally:
        stop_kernel(km, kc)
    result = roundtrip(cells, store=str(tmp_path / "store"), checkpoint_args="--mode rerun-all")
    assert result.restore.ok, (result.restore.stdout, result.restore.error)
    assert result.problems() == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["background", "blocking"])
def test_library_settings_changed_by_cells_survive_a_restore(tmp_path: Path, mode: str) -> None:
    """A module is stored as a reference and comes back imported afresh: what cells changed in
    it (pandas options, numpy print options, matplotlib rcParams, sys.path for a local package)
    is replayed before anything loads, so the session behaves the same and the local package
    unpickles at the first attempt; IPython's own settings (extensions, %xmode) too."""
    for machine in ("a", "b"):
        (tmp_path / machine / "nb").mkdir(parents=True)
        (tmp_path / machine / "src").mkdir()
        (tmp_path / machine / "src" / "mylib.py").write_text(
            "class Box:\n    def __init__(self, v):\n        self.v = v\n"
        )
    cells = [
        "import sys\nimport numpy as np, pandas as pd\nimport matplotlib\nmatplotlib.use('agg')\n"
        "import matplotlib.pyplot as plt",
        "sys.path.append('../src')\nimport mylib\nbox = mylib.Box([1, 2])",
        "pd.set_option('display.max_rows', 7)\nnp.set_printoptions(precision=3)",
        "plt.rcParams['figure.dpi'] = 42\nframe = pd.DataFrame({'a': range(20)})",
        "%load_ext autoreload\n%autoreload 2\n%xmode Minimal\n%env ELASTIC_TEST_SETTING=42",
        # Through a settings object, and a logger's level set through a variable.
        "import decimal, logging\ndecimal.getcontext().prec = 5\n"
        "logging.getLogger('nb.named').setLevel(logging.ERROR)\n"
        "log = logging.getLogger('nb.var')\nlog.setLevel(logging.DEBUG)",
    ]
    probe = (
        "import IPython, os\nshell = IPython.get_ipython()\n"
        "print(pd.get_option('display.max_rows'), np.get_printoptions()['precision'], "
        "plt.rcParams['figure.dpi'], '../src' in sys.path, type(box).__module__, "
        "'autoreload' in shell.magics_manager.magics['line'], shell.InteractiveTB.mode, "
        "os.environ.get('ELASTIC_TEST_SETTING'), decimal.getcontext().prec, "
        "logging.getLogger('nb.named').level, log.level, log is logging.getLogger('nb.var'))"
    )
    env = dict(os.environ, ELASTIC_STORE=str(tmp_path / "store"), ELASTIC_SESSION="settings")
    saved, expected = checkpoint_session(cells, env, cwd=str(tmp_path / "a" / "nb"), probe=probe)
    assert expected.split() == [
        *("7", "3", "42.0", "True", "mylib", "True", "Minimal", "42", "5", "40", "10", "True")
    ]
    km, kc = start_kernel(env=dict(env, ELASTIC_RESTORE=mode), cwd=str(tmp_path / "b" / "nb"))
    try:
        restored = execute(kc, "%restore --wait" if mode == "background" else "%restore")
        assert restored.ok, (saved.stdout, restored.stdout, restored.stderr, restored.error)
        assert "failed to load" not in restored.stdout + restored.stderr, restored.stdout
        assert execute(kc, probe).stdout == expected
    finally:
        stop_kernel(km, kc)


@pytest.mark.slow
def test_refitted_vectorizer_verifies_after_a_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A re-fitted scikit-learn vectorizer holds id(stop_words), which no re-run repeats: the
    restore said it differed and a blocking restore failed."""
    monkeypatch.setenv("ELASTIC_RESTORE", "blocking")
    cells = [
        # Only in the original session (deleted, so never re-run): the heap, and so the
        # address of the stop-word list, differs in the re-run.
        "junk = [[i] for i in range(50_000)]",
        "from sklearn.feature_extraction.text import CountVectorizer\n"
        "vectorizer = CountVectorizer(stop_words=['ab'])\n"
        "bow = vectorizer.fit_transform(['ab bc cd', 'bc cd de'])",
        "del junk",
    ]
    result = roundtrip(cells, store=str(tmp_path / "store"), checkpoint_args="--mode rerun-all")
    report = result.restore.stdout + result.restore.stderr
    assert "recompute" in result.checkpoint.stdout and "vectorizer" in result.checkpoint.stdout
    assert result.restore.ok and "differs" not in report, report
    assert result.problems() == []


@pytest.mark.slow
def test_rerun_cells_iterate_string_sets_in_the_same_order(tmp_path: Path) -> None:
    """Kernels run with a fixed string-hash seed (unless the user chose one), so a set of
    strings iterates the same way in the restored process and a recomputed value matches; the
    cells' own environment and subprocesses stay as in a stock kernel."""
    cells = ["order = list({'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta'})"]
    result = roundtrip(cells, store=str(tmp_path / "store"), checkpoint_args="--mode rerun-all")
    assert result.restore.ok, (result.restore.stdout, result.restore.error)
    assert "differs" not in result.restore.stdout + result.restore.stderr
    assert result.problems() == []
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)
    km, kc = start_kernel(env=env)
    try:
        probe = execute(
            kc,
            "import os, subprocess, sys\n"
            "child = subprocess.run([sys.executable, '-c', 'import sys; "
            "print(sys.flags.hash_randomization)'], capture_output=True, text=True).stdout\n"
            "print(sys.flags.hash_randomization, os.environ.get('PYTHONHASHSEED'), child.strip())",
        )
    finally:
        stop_kernel(km, kc)
    assert probe.stdout.split() == ["0", "None", "1"]


@pytest.mark.slow
def test_a_hash_seed_the_user_chose_is_kept() -> None:
    km, kc = start_kernel(env=dict(os.environ, PYTHONHASHSEED="random"))
    try:
        probe = execute(
            kc, "import os, sys\nprint(sys.flags.hash_randomization, os.environ['PYTHONHASHSEED'])"
        )
    finally:
        stop_kernel(km, kc)
    assert probe.stdout.split() == ["1", "random"]


@pytest.mark.slow
def test_a_moved_project_re_runs_cells_that_read_its_files(tmp_path: Path) -> None:
    """The notebook's directory is copied to another machine (another path) and the original is
    gone: a re-run reads the data file at the same place relative to the notebook, once its
    content is checked to be the same."""
    for machine in ("a", "b"):
        (tmp_path / machine).mkdir()
        rows = "\n".join(f"{i},{2 * i}" for i in range(100))
        (tmp_path / machine / "data.csv").write_text("x,y\n" + rows + "\n")
    cells = [
        "import pandas as pd\nframe = pd.read_csv('data.csv')",
        "total = int(frame['y'].sum())",
    ]
    env = dict(os.environ, ELASTIC_STORE=str(tmp_path / "store"), ELASTIC_SESSION="moved")
    saved, _ = checkpoint_session(
        cells, env, cwd=str(tmp_path / "a"), checkpoint="%checkpoint --mode rerun-all"
    )
    assert "recompute  3 variables: frame, pd, total" in saved.stdout, saved.stdout
    shutil.rmtree(tmp_path / "a")
    km, kc = start_kernel(env=env, cwd=str(tmp_path / "b"))
    try:
        restored = execute(kc, "%restore --wait")
        assert restored.ok, (restored.stdout, restored.stderr, restored.error)
        assert "3 recomputed by re-running 2 cells" in restored.stdout, restored.stdout
        assert execute(kc, "print(total)").stdout == "9900\n"
    finally:
        stop_kernel(km, kc)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["background", "blocking"])
@pytest.mark.parametrize(
    ("checkpoint_mode", "machine"), [("rerun-all", "a"), ("store-all", "b")], ids=["rerun", "moved"]
)
def test_working_directory_changes_are_replayed_and_restored(
    tmp_path: Path, mode: str, checkpoint_mode: str, machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cells that change directory (``os.chdir``, ``%cd``) re-run from where each started, and
    the restored kernel is left where the session was, in a moved project (machine b) too."""
    monkeypatch.setenv("ELASTIC_RESTORE", mode)
    for name in ("a", "b"):
        data = tmp_path / name / "project" / "data"
        (data / "raw").mkdir(parents=True)
        (data / "numbers.txt").write_text("1\n2\n3\n")
    cells = [
        "import os\nos.chdir('data')",
        "numbers = [int(v) for v in open('numbers.txt')]",
        "%cd raw",
        "%cd ..",
        "where = os.path.basename(os.getcwd())",
    ]
    env = dict(os.environ, ELASTIC_STORE=str(tmp_path / "store"), ELASTIC_SESSION="dirs")
    km, kc = start_kernel(env=env, cwd=str(tmp_path / "a" / "project"))
    try:
        for cell in cells:
            assert execute(kc, cell).ok, cell
        saved = execute(kc, f"%checkpoint --mode {checkpoint_mode}")
        assert saved.ok, (saved.stdout, saved.error)
        before = describe_session(kc)
    finally:
        stop_kernel(km, kc)
    if machine == "b":
        shutil.rmtree(tmp_path / "a")
    km, kc = start_kernel(env=env, cwd=str(tmp_path / machine / "project"))
    try:
        restored = execute(kc, "%restore")
        assert restored.ok, (restored.stdout, restored.stderr, restored.error)
        assert compare(before, describe_session(kc)) == []
        here = execute(kc, "import os\nprint(os.getcwd())").stdout.strip()
        assert here == str(tmp_path / machine / "project" / "data")
    finally:
        stop_kernel(km, kc)
