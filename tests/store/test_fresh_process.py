"""Objects defined in ``__main__`` come back in a fresh process, with their aliasing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WRITER = """
import dataclasses, sys
import numpy as np
from elastic_kernel.store import CheckpointStore, GroupSpec

@dataclasses.dataclass
class Point:
    x: int
    y: int
    def norm1(self):
        return abs(self.x) + abs(self.y)

class Counter:
    def __init__(self):
        self.n = 0
    def inc(self):
        self.n += 1
        return self.n

def make_adder(k):
    def add(x):
        return x + k
    return add

@dataclasses.dataclass(frozen=True, slots=True)
class Frozen:
    x: int
    tags: list

class Slotted:
    __slots__ = ("a", "_b")
    def __init__(self):
        self.a, self._b = 1, [2]

def make_local():
    class Local:
        pass
    return Local()

import typing
T = typing.TypeVar("T")

class Pair(typing.NamedTuple):
    a: int
    b: list

class Holder(typing.Generic[T]):
    def __init__(self, v):
        self.v = v

import collections
Plain = collections.namedtuple("Plain", "x y")

import functools
@functools.lru_cache(maxsize=8)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
fib(20)
fib.note = "memo"

class Circle:
    def __init__(self, r):
        self.r = r
    @functools.cached_property
    def area(self):
        'The area.'
        return 3 * self.r ** 2
circle = Circle(2)
circle.area

class Empty:
    __slots__ = ()

import pandas as pd
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
frame = pd.DataFrame({"a": [3, 1, 2], "b": list("xyz")})
frame["c"] = frame["a"] * 2  # the column labels become a two-chunk arrow array
forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(*load_iris(return_X_y=True))

base = np.arange(12.0)
values = {
    "point": Point(3, -4),
    "counter": Counter(),
    "add3": make_adder(3),
    "square": lambda x: x * x,
    "base": base,
    "evens": base[::2],
    "holder": {"p": None},
    "frozen": Frozen(1, ["t"]),
    "slotted": Slotted(),
    "local": make_local(),
    "T": T,
    "pair": Pair(1, [2]),
    "generic": Holder[int](3),
    "ntup": Plain(1, 2),
    "empty": Empty(),
    "Point": Point,
    "Counter": Counter,
    "frame": frame,
    "tail": pd.Series(["a", "bb", "ccc"])[1:],
    "forest": forest,
    "masked": np.ma.masked_array([1, 2, 3], mask=[False, True, False]),
    "fib": fib,
    "circle": circle,
}
values["counter"].inc()
values["holder"]["p"] = values["point"]
from elastic_kernel.lineage.fingerprint import fingerprint
digests = {name: fingerprint(value) for name, value in values.items()}
fingerprints = {name: d.hex() for name, d in digests.items() if d is not None}
assert {"ntup", "Point", "Counter", "frame", "tail", "forest", "masked"} <= fingerprints.keys(), digests
store = CheckpointStore(sys.argv[1], key=bytes.fromhex(sys.argv[2]))
store.write_checkpoint("fresh", [GroupSpec(tuple(values), values, None)], {"fp": fingerprints})
"""

READER = """
import sys
import numpy as np
from elastic_kernel.store import CheckpointStore
store = CheckpointStore(sys.argv[1], key=bytes.fromhex(sys.argv[2]))
manifest = store.open("fresh")
ns = store.load_group(manifest, 0)
# A loaded copy fingerprints like the original (a restore reports any other as changed):
# class attributes come back in another order, unpickling interns instance-dict keys, pandas
# joins arrow chunks, loading a masked array sets its default fill value.
from elastic_kernel.lineage.fingerprint import fingerprint
for name, digest in manifest.metadata["fp"].items():
    got = fingerprint(ns[name])
    assert got is not None and got.hex() == digest, name
assert ns["point"].norm1() == 7, ns["point"]
assert type(ns["point"]).__name__ == "Point"
assert ns["counter"].inc() == 2
assert ns["add3"](4) == 7 and ns["square"](5) == 25
assert ns["holder"]["p"] is ns["point"]
assert np.shares_memory(ns["base"], ns["evens"])
# Slots stay slots (cloudpickle alone rebuilds such classes with a __dict__ and no slots).
for name in ("frozen", "slotted", "ntup", "empty"):
    assert not hasattr(ns[name], "__dict__"), type(ns[name]).__dict__.keys()
assert ns["frozen"] == type(ns["frozen"])(1, ["t"]) and ns["slotted"]._b == [2]
assert {"a", "_b"} <= set(vars(type(ns["slotted"])))
assert type(ns["local"]).__qualname__ == "make_local.<locals>.Local"
# cloudpickle alone rebuilds a TypeVar in its own module, and NamedTuples refuse slots.
assert ns["T"].__module__ == "__main__" and type(ns["generic"]).__parameters__ == (ns["T"],)
assert ns["pair"] == (1, [2]) and type(ns["pair"])._fields == ("a", "b")
# An lru_cache wrapper pickles itself by name, which a fresh process cannot look up: it comes
# back as a wrapper of the same function, with its parameters and attributes (cache emptied).
fib = ns["fib"]
assert fib(20) == 6765 and fib.cache_parameters() == {"maxsize": 8, "typed": False}
assert fib.note == "memo" and fib.__wrapped__.__name__ == "fib"
assert fib.__wrapped__.__globals__["fib"] is fib
# cached_property held an RLock before Python 3.12: the class was unstorable.
circle = ns["circle"]
assert circle.area == 12 and vars(circle)["area"] == 12 and type(circle)(3).area == 27
prop = vars(type(circle))["area"]
assert prop.attrname == "area" and prop.__doc__ == "The area."
ns["base"][2] = 100.0
assert ns["evens"][1] == 100.0
print("ok")
"""


def test_main_objects_in_fresh_process(tmp_path: Path, key: bytes) -> None:
    args = [str(tmp_path / "store"), key.hex()]
    write = subprocess.run(
        [sys.executable, "-c", WRITER, *args], capture_output=True, text=True, check=False
    )
    assert write.returncode == 0, write.stderr
    read = subprocess.run(
        [sys.executable, "-c", READER, *args], capture_output=True, text=True, check=False
    )
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "ok"
