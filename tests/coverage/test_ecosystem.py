"""The rest of the ecosystem (needs the ``coverage`` extra; marked ``slow``, not in the CI subset)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.coverage.harness import Scenario

SCENARIOS = {
    "scipy": Scenario(
        library="scipy",
        requires=("scipy",),
        cells=(
            "import numpy as np\nfrom scipy import sparse, stats, interpolate, spatial, optimize, signal\nxs = np.linspace(0, 1, 10)",
            "mats = {'csr': sparse.random(5, 5, density=0.3, format='csr', random_state=0), 'csc': sparse.eye(4, format='csc'), 'coo': sparse.coo_matrix(np.eye(3)), 'lil': sparse.lil_matrix((3, 3)), 'dok': sparse.dok_matrix((2, 2)), 'bsr': sparse.bsr_matrix(np.eye(4)), 'dia': sparse.dia_matrix(np.eye(3)), 'csr_array': sparse.csr_array(np.eye(2))}\nmats['lil'][0, 1] = 5.0\nmats['dok'][1, 1] = 2.0",
            "dists = {'norm': stats.norm(1, 2), 'gamma': stats.gamma(2.0), 'binom': stats.binom(10, 0.3), 'kde': stats.gaussian_kde(np.random.default_rng(0).normal(size=50)), 'ttest': stats.ttest_ind([1, 2, 3], [2, 3, 4])}\ninterp = {'i1d': interpolate.interp1d(xs, xs ** 2), 'cubic': interpolate.CubicSpline(xs, np.sin(xs)), 'pchip': interpolate.PchipInterpolator(xs, xs), 'univ': interpolate.UnivariateSpline(xs, xs ** 3), 'rbf': interpolate.RBFInterpolator(xs[:, None], xs), 'grid': interpolate.RegularGridInterpolator((xs,), xs)}\nkdtrees = {'kd': spatial.KDTree(np.random.default_rng(1).random((20, 2))), 'ckd': spatial.cKDTree(np.random.default_rng(2).random((20, 2)))}\ntrees = {'hull': spatial.ConvexHull(np.random.default_rng(3).random((10, 2))), 'delaunay': spatial.Delaunay(np.random.default_rng(4).random((10, 2))), 'rot': spatial.transform.Rotation.from_euler('z', 30, degrees=True)}\nopt = optimize.minimize(lambda v: (v[0] - 1) ** 2, [0.0])\nfilt = signal.butter(2, 0.3, output='sos')",
        ),
        # A k-d tree pickles its nodes as raw bytes that include pointers (new at every load),
        # so the oracle's byte digest differs: its queries and data are compared instead.
        checks={
            "kdtrees": "{k: (t.n, t.m, t.leafsize, t.data.tolist(), t.query([[0.5, 0.5]], k=3)[1].tolist(), t.query_ball_point([0.2, 0.8], 0.3)) for k, t in kdtrees.items()}",
        },
    ),
    "polars": Scenario(
        library="polars",
        requires=("polars",),
        cells=(
            "import polars as pl\nframe = pl.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', None], 'c': [1.5, None, 2.5]})\nframe = frame.with_columns((pl.col('a') * 2).alias('d'))\nseries = frame['a']\nlazy = frame.lazy().filter(pl.col('a') > 1).select(['a', 'b'])\nexpr = pl.col('a').sum().over('b')\nschema = frame.schema\ndtypes = [pl.Int64, pl.List(pl.Utf8), pl.Struct({'x': pl.Int8})]",
        ),
    ),
    "pyarrow": Scenario(
        library="pyarrow",
        requires=("pyarrow",),
        cells=(
            "import pyarrow as pa, pyarrow.dataset as ds, pyarrow.parquet as pq, tempfile, os\ntable = pa.table({'a': [1, 2, 3], 'b': ['x', 'y', 'z']})\nbatch = pa.record_batch({'n': pa.array([1.5, None])})\narr = pa.array([[1], [2, 3]])\nchunked = pa.chunked_array([[1, 2], [3]])\nschema = table.schema\nscalar = pa.scalar(5)\ndictarr = pa.array(['a', 'b', 'a']).dictionary_encode()",
        ),
    ),
    "networkx": Scenario(
        library="networkx",
        requires=("networkx",),
        cells=(
            "import networkx as nx\ng = nx.karate_club_graph()\ndg = nx.gnp_random_graph(10, 0.3, seed=1, directed=True)\nmg = nx.MultiGraph([(1, 2), (1, 2)])\nmdg = nx.MultiDiGraph([(1, 2)])\ng.add_edge(0, 99, weight=3)\nsub = g.subgraph([0, 1, 2])\nview = nx.reverse_view(dg)",
        ),
    ),
    "sympy": Scenario(
        library="sympy",
        requires=("sympy",),
        cells=(
            "import sympy as sp\nx, y = sp.symbols('x y', real=True)\nexprs = {'poly': sp.expand((x + y) ** 3), 'frac': sp.Rational(3, 7), 'int': sp.Integer(12), 'float': sp.Float('1.25'), 'eq': sp.Eq(x ** 2, 4), 'integral': sp.Integral(sp.sin(x), x), 'matrix': sp.Matrix([[1, x], [y, 2]]), 'immutable': sp.ImmutableMatrix([[1, 2]]), 'piece': sp.Piecewise((x, x > 0), (0, True)), 'set': sp.Interval(0, 1), 'poly_obj': sp.Poly(x ** 2 + 1, x), 'lam': sp.Lambda(x, x + 1), 'sol': sp.solve(x ** 2 - 4, x)}",
        ),
    ),
    "pillow": Scenario(
        library="pillow",
        requires=("PIL",),
        cells=(
            "from PIL import Image, ImageDraw, ImageFilter\nimg = Image.new('RGB', (16, 8), 'navy')\nImageDraw.Draw(img).line((0, 0, 15, 7), fill='yellow')\ngray = img.convert('L')\npal = img.convert('P')\nrgba = img.filter(ImageFilter.BLUR).convert('RGBA')\nthumb = img.resize((4, 2))",
        ),
    ),
    "plotly": Scenario(
        library="plotly",
        requires=("plotly",),
        cells=(
            "import plotly.graph_objects as go\nfig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name='s'))\nfig.add_bar(x=[1, 2], y=[1, 1])\nfig.update_layout(title='t')\nparts = {'scatter': go.Scatter(x=[1]), 'layout': go.Layout(width=300), 'heat': go.Heatmap(z=[[1, 2]]), 'widget_free': go.Figure()}",
        ),
    ),
    "statsmodels": Scenario(
        library="statsmodels",
        requires=("statsmodels",),
        cells=(
            "import numpy as np, statsmodels.api as sm\nrng = np.random.default_rng(0)\nXs = sm.add_constant(rng.normal(size=(40, 2)))\nys = Xs @ [1.0, 2.0, -1.0] + rng.normal(size=40)\nols = sm.OLS(ys, Xs).fit()\nglm = sm.GLM((ys > 0).astype(float), Xs, family=sm.families.Binomial()).fit()\nlogit = sm.Logit((ys > 0).astype(float), Xs).fit(disp=0)\narima = sm.tsa.ARIMA(np.cumsum(rng.normal(size=50)), order=(1, 0, 0)).fit()",
        ),
    ),
    "xgboost": Scenario(
        library="xgboost",
        requires=("xgboost", "sklearn"),
        cells=(
            "import xgboost as xgb\nfrom sklearn.datasets import load_iris\nXi, yi = load_iris(return_X_y=True)\nclf = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(Xi, yi)\nreg = xgb.XGBRegressor(n_estimators=5).fit(Xi, yi)\nbooster = xgb.train({'max_depth': 2}, xgb.DMatrix(Xi, label=yi), num_boost_round=3)",
        ),
    ),
    "lightgbm": Scenario(
        library="lightgbm",
        requires=("lightgbm", "sklearn"),
        cells=(
            "import lightgbm as lgb\nfrom sklearn.datasets import load_iris\nXi, yi = load_iris(return_X_y=True)\nclf = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(Xi, yi)\nreg = lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(Xi, yi)\nbooster = lgb.train({'verbose': -1}, lgb.Dataset(Xi, label=yi), num_boost_round=3)",
        ),
    ),
    "seaborn": Scenario(
        library="seaborn",
        requires=("seaborn",),
        cells=(
            "import matplotlib\nmatplotlib.use('Agg')\nimport seaborn as sns, pandas as pd, numpy as np\ndata = pd.DataFrame({'x': np.arange(20.0), 'y': np.arange(20.0) ** 0.5, 'k': list('ab') * 10})\ngrid = sns.FacetGrid(data, col='k')\ngrid.map(sns.scatterplot, 'x', 'y')\njoint = sns.jointplot(data=data, x='x', y='y')\npalette = sns.color_palette('viridis', 3)\ncmap = sns.light_palette('seagreen', as_cmap=True)",
        ),
    ),
    "databases": Scenario(
        library="databases",
        requires=("duckdb", "sqlalchemy"),
        cells=(
            "import sqlite3, duckdb, sqlalchemy as sa",
            "lite = sqlite3.connect(':memory:')\nlite.execute('create table t (v int)')\nlite.executemany('insert into t values (?)', [(1,), (2,)])\ncur = lite.execute('select sum(v) from t')",
            "duck = duckdb.connect()\nduck.execute('create table t as select range as v from range(5)')\nrel = duck.sql('select v * 2 as w from t')",
            "engine = sa.create_engine('sqlite://')\nmeta = sa.MetaData()\nusers = sa.Table('users', meta, sa.Column('id', sa.Integer, primary_key=True), sa.Column('name', sa.String))\nmeta.create_all(engine)\nwith engine.begin() as conn:\n    conn.execute(users.insert(), [{'name': 'ann'}, {'name': 'bob'}])\nquery = sa.select(users.c.name).where(users.c.id > 1)",
        ),
        recomputed=frozenset({"lite", "cur", "duck", "rel", "engine"}),
        checks={
            "lite": "lite.execute('select count(*) from t').fetchone()",
            "cur": "cur.fetchall()",
            "duck": "duck.execute('select sum(v) from t').fetchall()",
            "rel": "rel.fetchall()",
            "engine": "engine.connect().execute(sa.select(users.c.name)).fetchall()",
            # sqlalchemy names anonymous bind parameters after id() and memoizes event
            # dispatchers lazily: the oracle would compare addresses, so the SQL is compared.
            "query": "str(query.compile(compile_kwargs={'literal_binds': True}))",
            "conn": "(type(conn).__name__, conn.closed, conn.invalidated)",
        },
        mode="balanced",
    ),
}


@pytest.mark.coverage
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_library(name: str, check_scenario: Any) -> None:
    check_scenario(SCENARIOS[name])


@pytest.mark.coverage
@pytest.mark.slow
def test_sympy_undefined_function(tmp_path: Any) -> None:
    from tests.coverage.harness import run_scenario

    scenario = Scenario(
        library="sympy",
        requires=("sympy",),
        cells=("import sympy as sp\nx = sp.Symbol('x')\nfx = sp.Function('f')(x)",),
    )
    run_scenario(scenario, tmp_path)
