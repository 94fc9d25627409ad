"""numpy: plain, masked, structured, record, memmap arrays, views, scalars and random state."""

from __future__ import annotations

from typing import Any

import pytest

from tests.coverage.harness import Scenario

SCENARIO = Scenario(
    library="numpy",
    requires=("numpy",),
    cells=(
        "import numpy as np\nbase = np.arange(60.0).reshape(6, 10)\nrow = base[2]\ncol = base[:, 3]\nflipped = base[::-1, ::2]\nT = base.T",
        "row[:] = -1\nbase[0, 0] = 42",
        "masked = np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[0, 1, 0, 1], fill_value=-9)\nmasked[0] = np.ma.masked\nmasked_int = np.ma.masked_greater(np.arange(8), 5)",
        "people = np.array([('ann', 31, 1.6), ('bob', 42, 1.8)], dtype=[('name', 'U8'), ('age', 'i4'), ('height', 'f8')])\npeople['age'] += 1\nages = people['age']\nrec = people.view(np.recarray)",
        "mm_path = 'data.bin'\nmm = np.memmap(mm_path, dtype='float32', mode='w+', shape=(4, 5))\nmm[:] = np.arange(20).reshape(4, 5)\nmm.flush()",
        "scalars = {'f64': np.float64(1.5), 'i32': np.int32(-7), 'u8': np.uint8(200), 'c128': np.complex128(1 + 2j), 'b': np.bool_(True), 'dt64': np.datetime64('2024-03-01T12:00'), 'td64': np.timedelta64(5, 'h'), 'f16': np.float16(0.25), 'void': people[0], 'str_': np.str_('hi'), 'bytes_': np.bytes_(b'xy')}",
        "dtypes = {'rec': people.dtype, 'f': np.dtype('>f4'), 'sub': np.dtype(('i2', (2, 3)))}",
        "rng = np.random.default_rng(7)\ndraw = rng.normal(size=3)\nlegacy = np.random.RandomState(3)\nlegacy.rand(2)\nbitgens = [np.random.PCG64(1), np.random.MT19937(2), np.random.Philox(3), np.random.SFC64(4), np.random.SeedSequence(5)]",
        "objarr = np.array([[1, 'a'], [None, (2, 3)]], dtype=object)\nbig_f = np.ones((3, 4), order='F')\nbools = base > 20\nstrings = np.array(['x', 'yy', 'zzz'])\nmat = np.matrix([[1, 2], [3, 4]])\npoly = np.polynomial.Polynomial([1, 2, 3])\ncheb = np.polynomial.Chebyshev([0, 1])\nfinfo = np.finfo(np.float32)\niinfo = np.iinfo(np.int16)\nbcast = np.broadcast_to(np.arange(3), (4, 3))\nnditer_src = np.arange(6)",
        "it = np.nditer(nditer_src)\nflat = base.flat\nvec = np.vectorize(lambda v: v + 1)\nufunc_out = np.add.reduce(base, axis=0)\nerrstate = np.errstate(all='ignore')",
    ),
)


@pytest.mark.coverage
def test_numpy(check_scenario: Any) -> None:
    check_scenario(SCENARIO)
