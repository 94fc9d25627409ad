"""Python's standard library: values, containers, iterators, and the handles that cannot move."""

from __future__ import annotations

from typing import Any

import pytest

from tests.coverage.harness import Scenario

# A file that exists before the session starts (like a data file next to a notebook).
INPUT = "/tmp/elastic-coverage-input.txt"

VALUES = Scenario(
    library="stdlib",
    cells=(
        "import datetime as dt, decimal, fractions, zoneinfo, uuid, ipaddress, array, struct, string, textwrap, argparse, operator, random, statistics, logging, types, email.message, json, enum, pathlib, re, functools, collections, dataclasses, calendar, heapq, io",
        "dates = {'date': dt.date(2024, 2, 29), 'time': dt.time(12, 30, tzinfo=dt.timezone.utc), 'datetime': dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=zoneinfo.ZoneInfo('Europe/Paris')), 'delta': dt.timedelta(days=3, microseconds=7), 'tz': dt.timezone(dt.timedelta(hours=-5), 'EST'), 'zone': zoneinfo.ZoneInfo('Asia/Tokyo')}",
        "ctx = decimal.Context(prec=7, rounding=decimal.ROUND_HALF_EVEN)\nnumbers = {'dec': decimal.Decimal('3.14159265358979'), 'frac': fractions.Fraction(22, 7), 'ctx': ctx, 'dist': statistics.NormalDist(1.0, 2.0)}",
        "Point = collections.namedtuple('Point', 'x y')\nboxes = {'od': collections.OrderedDict(b=2, a=1), 'dd': collections.defaultdict(list), 'dq': collections.deque([1, 2, 3], maxlen=5), 'counter': collections.Counter('mississippi'), 'chain': collections.ChainMap({'a': 1}, {'b': 2}), 'udict': collections.UserDict(k=1), 'ulist': collections.UserList([3, 4]), 'ustr': collections.UserString('abc'), 'point': Point(1, 2)}\nboxes['dd']['x'].append(1)\nboxes['od'].move_to_end('b')\nboxes['dq'].appendleft(0)",
        "@dataclasses.dataclass\nclass Item:\n    name: str\n    qty: int = 0\n    tags: list = dataclasses.field(default_factory=list)\n\n@dataclasses.dataclass(frozen=True)\nclass Frozen:\n    key: str\n    value: float\n\nclass Color(enum.Enum):\n    RED = 1\n    GREEN = 2\n\nclass Perm(enum.Flag):\n    R = 4\n    W = 2\n    X = 1\n\nclass Level(enum.IntEnum):\n    LOW = 1\n    HIGH = 2\n\nclass Size(enum.StrEnum):\n    S = 's'\n\nitem = Item('apple', 3)\nitem.tags.append('fruit')\nfrozen = Frozen('k', 1.5)\nenums = [Color.GREEN, Perm.R | Perm.W, Level.HIGH, Size.S]",
        "paths = {'posix': pathlib.PurePosixPath('/a/b.txt'), 'win': pathlib.PureWindowsPath('C:/x/y'), 'real': pathlib.Path('rel/file.csv')}\npattern = re.compile(r'(?P<word>\\w+)-(\\d+)', re.IGNORECASE)\nmatch = pattern.search('xx Alpha-42 yy')",
        "def power(base, exp):\n    return base ** exp\nsquare = functools.partial(power, exp=2)\n@functools.lru_cache(maxsize=8)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\nfib(20)\ncallables = {'itemgetter': operator.itemgetter(1, 0), 'attrgetter': operator.attrgetter('real'), 'methodcaller': operator.methodcaller('split', ','), 'pmethod': functools.partialmethod(power, exp=3)}",
        "misc = {'uuid': uuid.UUID('12345678-1234-5678-1234-567812345678'), 'ip': ipaddress.ip_address('10.1.2.3'), 'net': ipaddress.ip_network('10.0.0.0/8'), 'ip6': ipaddress.IPv6Address('::1'), 'iface': ipaddress.ip_interface('192.168.0.1/24'), 'arr': array.array('d', [1.0, 2.5]), 'ba': bytearray(b'abc'), 'struct': struct.Struct('<if'), 'tmpl': string.Template('hi $name'), 'wrapper': textwrap.TextWrapper(width=20), 'ns': argparse.Namespace(a=1, b='x'), 'sns': types.SimpleNamespace(p=[1], q=2), 'rnd': random.Random(5), 'logger': logging.getLogger('coverage.demo'), 'decoder': json.JSONDecoder(), 'encoder': json.JSONEncoder(indent=2), 'cal': calendar.TextCalendar(firstweekday=6), 'rng': range(2, 20, 3), 'sl': slice(1, None, 2), 'ell': Ellipsis, 'cplx': complex(1, -1)}\nmisc['ba'].extend(b'def')\nmisc['rnd'].random()\nheap = [5, 1, 4]\nheapq.heapify(heap)\nmsg = email.message.EmailMessage()\nmsg['Subject'] = 'hello'\nmsg.set_content('body')",
        "buf = io.BytesIO(b'0123456789')\nbuf.seek(4)\ntext = io.StringIO('line1\\nline2\\n')\ntext.readline()",
    ),
)

ITERATORS = Scenario(
    library="stdlib",
    cells=(
        "import itertools, copy\ndata = [3, 1, 4, 1, 5, 9, 2, 6]",
        "its = {'count': itertools.count(10, 2), 'cycle': itertools.cycle('ab'), 'chain': itertools.chain([1], [2, 3]), 'islice': itertools.islice(range(100), 2, 50, 7), 'product': itertools.product('ab', repeat=2), 'perm': itertools.permutations(range(3)), 'comb': itertools.combinations(range(4), 2), 'combr': itertools.combinations_with_replacement('xy', 2), 'acc': itertools.accumulate(data), 'zipl': itertools.zip_longest('ab', 'xyz', fillvalue='-'), 'repeat': itertools.repeat(7, 3), 'starmap': itertools.starmap(pow, [(2, 3), (3, 2)]), 'takewhile': itertools.takewhile(lambda v: v < 5, data), 'dropwhile': itertools.dropwhile(lambda v: v < 5, data), 'compress': itertools.compress(data, [1, 0, 1]), 'filterfalse': itertools.filterfalse(None, [0, 1, 0, 2]), 'tee': itertools.tee(data, 2)[0], 'listiter': iter(data), 'rev': reversed(data), 'enum': enumerate('xyz'), 'zip': zip(data, data), 'map': map(str, data), 'filter': filter(None, data)}",
        "for name in ('count', 'cycle', 'islice', 'product', 'perm', 'listiter', 'enum', 'zip', 'map'):\n    next(its[name])",
        "gen = (v * 2 for v in data)\nfirst = next(gen)",
        "ticker = iter(range(5, 0, -1))\nsquares = (v * v for v in ticker if v % 2)\nnext(squares)",
    ),
    recomputed=frozenset({"gen", "squares"}),
    checks={
        "its": "{k: list(itertools.islice(copy.deepcopy(v), 6)) for k, v in its.items() }",
        "gen": "list(gen)",
        "squares": "list(squares)",
    },
)

HANDLES = Scenario(
    library="stdlib",
    cells=(
        "import threading, queue, weakref, contextvars, hashlib, zlib, socket",
        "lock = threading.Lock()\nrlock = threading.RLock()\ncond = threading.Condition()\nsem = threading.BoundedSemaphore(3)\nsem.acquire()\nevent = threading.Event()\nevent.set()\nbarrier = threading.Barrier(2)\nq = queue.Queue()\nq.put('job')",
        "results = []\nworker = threading.Thread(target=results.append, args=('done',), name='worker')\nworker.start()\nworker.join()",
        "class Node:\n    pass\ntarget = Node()\nref = weakref.ref(target)\nproxy = weakref.proxy(target)\nwvd = weakref.WeakValueDictionary({'t': target})\nwset = weakref.WeakSet([target])",
        "var = contextvars.ContextVar('var', default=0)\ntoken = var.set(5)\nsnapshot = contextvars.copy_context()",
        "digest = hashlib.sha256(b'abc')\ndigest.update(b'def')\ncomp = zlib.compressobj()\nsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\nview = memoryview(b'abcdef')[1:4]\nmapping = __import__('types').MappingProxyType({'a': 1})",
        f"reader = open({INPUT!r})\nheader = reader.readline()",
        f"with open({INPUT!r}, 'rb') as done:\n    raw = done.read()",
    ),
    recomputed=frozenset(
        {
            "lock",
            "rlock",
            "cond",
            "sem",
            "event",
            "barrier",
            "q",
            "worker",
            "wvd",
            "wset",
            "var",
            "token",
            "snapshot",
            "digest",
            "comp",
            "sock",
            "view",
            "reader",
        }
    ),
    checks={
        "lock": "lock.locked()",
        "rlock": "repr(rlock).split(' owner')[0].split(' object')[0]",
        "cond": "cond.acquire(blocking=False) and (cond.release() or True)",
        "sem": "sem._value",
        "event": "event.is_set()",
        "barrier": "(barrier.parties, barrier.n_waiting)",
        "q": "list(q.queue)",
        "worker": "(worker.name, worker.is_alive(), results)",
        "ref": "ref() is target",
        "proxy": "type(proxy).__name__ + str(proxy.__class__ is Node)",
        "wvd": "wvd['t'] is target",
        "wset": "target in wset",
        "var": "var.get()",
        "token": "token.var is var and token.old_value is token.MISSING",
        "snapshot": "snapshot[var]",
        "digest": "digest.hexdigest()",
        "comp": "len(comp.copy().flush())",
        "sock": "(sock.family, sock.type)",
        "view": "view.tobytes()",
        "mapping": "dict(mapping)",
        "reader": "(reader.name, reader.tell(), reader.closed, reader.read())",
    },
)

WRITER = Scenario(
    library="stdlib",
    cells=(
        "import os, tempfile\nfolder = tempfile.mkdtemp()\nlog = open(os.path.join(folder, 'log.txt'), 'a')\nlog.write('started')",
        "kept = {'n': 1}",
    ),
    lost={"log": "side effects"},
)


@pytest.mark.coverage
@pytest.mark.parametrize(
    "scenario",
    [VALUES, ITERATORS, HANDLES, WRITER],
    ids=["values", "iterators", "handles", "writer"],
)
def test_stdlib(scenario: Scenario, check_scenario: Any) -> None:
    with open(INPUT, "w") as out:
        out.write("alpha\nbeta\ngamma\n")
    check_scenario(scenario)


@pytest.mark.coverage
def test_slotted_dataclass_from_notebook(tmp_path: Any) -> None:
    """cloudpickle alone rebuilds a slotted notebook class without its slot descriptors
    (instances get a __dict__); the store passes the slots to the class statement."""
    from tests.coverage.harness import run_scenario

    scenario = Scenario(
        library="stdlib",
        cells=(
            "import dataclasses\n@dataclasses.dataclass(frozen=True, slots=True)\nclass Frozen:\n    key: str\nf = Frozen('k')",
        ),
    )
    run_scenario(scenario, tmp_path)
