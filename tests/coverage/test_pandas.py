"""pandas: frames, every extension dtype, indexes, scalars, Styler, GroupBy and window objects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.coverage.harness import Scenario

SCENARIO = Scenario(
    library="pandas",
    requires=("pandas", "jinja2"),
    cells=(
        "import pandas as pd, numpy as np\ndf = pd.DataFrame({'g': list('abab'), 'x': [1.0, 2.0, 3.0, 4.0], 'n': pd.array([1, None, 3, 4], dtype='Int64')}, index=pd.Index([10, 20, 30, 40], name='id'))\ndf.attrs['source'] = 'demo'\ndf.loc[20, 'x'] = -2.0\ncol = df['x']",
        "arrays = {'int': pd.array([1, None], dtype='Int32'), 'float': pd.array([0.5, None], dtype='Float64'), 'bool': pd.array([True, None], dtype='boolean'), 'string': pd.array(['a', None], dtype='string'), 'cat': pd.Categorical(['lo', 'hi', 'lo'], categories=['lo', 'hi'], ordered=True), 'dt_tz': pd.array(pd.date_range('2024-01-01', periods=2, tz='Europe/Berlin')), 'td': pd.array(pd.to_timedelta([1, 2], unit='h')), 'period': pd.array(pd.period_range('2024-01', periods=2, freq='M')), 'interval': pd.arrays.IntervalArray.from_breaks([0, 1, 3]), 'sparse': pd.arrays.SparseArray([0, 0, 5, 0]), 'arrow': pd.array([1, 2], dtype='int64[pyarrow]')}",
        "indexes = {'range': pd.RangeIndex(0, 10, 2), 'multi': pd.MultiIndex.from_product([[1, 2], ['u', 'v']], names=['k', 'l']), 'dt': pd.date_range('2024-01-01', periods=3, freq='D', name='day'), 'td': pd.timedelta_range('1h', periods=2), 'period': pd.period_range('2024Q1', periods=2, freq='Q'), 'interval': pd.interval_range(0, 3), 'cat': pd.CategoricalIndex(['a', 'b', 'a'])}",
        "scalars = {'ts': pd.Timestamp('2024-05-06 07:08', tz='UTC'), 'td': pd.Timedelta('1D2h'), 'period': pd.Period('2024-02', freq='M'), 'interval': pd.Interval(0, 1, closed='left'), 'offset': pd.DateOffset(months=2), 'bday': pd.offsets.BusinessDay(3), 'dtype_cat': pd.CategoricalDtype(['x', 'y']), 'dtype_tz': pd.DatetimeTZDtype(tz='UTC'), 'dtype_period': pd.PeriodDtype('D'), 'dtype_interval': pd.IntervalDtype('int64'), 'dtype_sparse': pd.SparseDtype('float64', 0.0), 'dtype_int': pd.Int64Dtype(), 'dtype_str': pd.StringDtype(), 'dtype_arrow': pd.ArrowDtype(__import__('pyarrow').int32()), 'grouper': pd.Grouper(key='g')}",
        "wide = pd.DataFrame(np.arange(12.0).reshape(3, 4), columns=pd.MultiIndex.from_product([['A', 'B'], ['p', 'q']]))\nwide[('A', 'p')] *= 10\nts = pd.Series(np.arange(10.0), index=pd.date_range('2024-01-01', periods=10, freq='h'), name='load')\nmixed = pd.DataFrame({'lists': [[1], [2, 3]], 'dicts': [{'a': 1}, {}]})\nrenamed = df.rename(columns={'x': 'x2'})\npair = df[['g', 'x']]\nhead = wide.head(2)",
        "styler = df.style.highlight_max(color='yellow').format(precision=1).set_caption('demo')\ngrouped = df.groupby('g')\nsgrouped = df.groupby('g')['x']\nsummary = grouped.x.sum()\nwindows = {'rolling': ts.rolling(3), 'expanding': ts.expanding(), 'ewm': ts.ewm(span=3), 'resample': ts.resample('2h')}",
    ),
)


@pytest.mark.coverage
def test_pandas(check_scenario: Any) -> None:
    check_scenario(SCENARIO)
