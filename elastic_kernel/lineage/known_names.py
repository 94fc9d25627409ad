"""The names static analysis knows: calls and attributes that escape it, magics by what they
do, generator constructors, and the calls and methods that change a library's settings."""

from __future__ import annotations

__all__ = [
    "CODE_MAGICS",
    "DYNAMIC_ATTRIBUTES",
    "DYNAMIC_CALLS",
    "GENERATOR_CONSTRUCTORS",
    "MUTATING_METHODS",
    "NEUTRAL_MAGICS",
    "SETTINGS_CALLS",
    "SETTINGS_GETTERS",
    "SETTINGS_MAGICS",
    "SHELL_CALLS",
    "SIDE_EFFECT_MAGICS",
    "TOOLING_MAGICS",
]

# Calls that reach the namespace by name at run time: static analysis cannot see what they touch.
DYNAMIC_CALLS = frozenset(
    {"eval", "exec", "globals", "locals", "vars", "__import__", "setattr", "delattr", "compile"}
)
DYNAMIC_ATTRIBUTES = frozenset({"user_ns", "user_global_ns", "__dict__", "modules", "f_globals"})
# Magics whose argument is ordinary Python that runs in the user namespace.
CODE_MAGICS = frozenset({"time", "timeit", "prun", "capture", "debug"})
# The kernel's own magics: cells made only of them are tooling, not part of the session.
TOOLING_MAGICS = frozenset({"elastic", "checkpoint", "restore"})
# IPython's own settings and the process environment, which a restore replays: `%load_ext
# autoreload`, `%autoreload 2`, `%config InlineBackend.figure_format = 'retina'`, `%matplotlib
# widget`, `%env CUDA_VISIBLE_DEVICES=0`.
SETTINGS_MAGICS = frozenset(
    {
        "load_ext",
        "autoreload",
        "aimport",
        "config",
        "matplotlib",
        "precision",
        "xmode",
        "env",
        "set_env",
    }
)
# Magics that neither read nor modify user variables (they may change IPython's own settings).
NEUTRAL_MAGICS = SETTINGS_MAGICS | frozenset(
    {
        "who",
        "whos",
        "who_ls",
        "pwd",
        "lsmagic",
        "magic",
        "colors",
        "history",
        "pinfo",
        "pinfo2",
        "pdoc",
        "pdef",
        "psource",
        "pfile",
        "psearch",
        "page",
        "reload_ext",
        "html",
        "HTML",
        "markdown",
        "latex",
        "svg",
        "javascript",
        "js",
        "elastic",
        "checkpoint",
    }
)
# Magics that act outside the process: never re-run them silently.
SIDE_EFFECT_MAGICS = frozenset(
    {
        "pip",
        "conda",
        "mamba",
        "cd",
        "writefile",
        "bash",
        "sh",
        "script",
        "system",
        "sx",
        "sc",
        "mkdir",
        "rm",
        "cp",
        "mv",
        "ls",
        "cat",
        "rmdir",
        "bookmark",
    }
)
# Constructors of random generators: reproducible only with a literal seed.
GENERATOR_CONSTRUCTORS = frozenset({"default_rng", "RandomState", "Random", "Generator"})
# Calls that change a library's settings: `pd.set_option(...)`, `plt.style.use(...)`,
# `np.set_printoptions(...)`, `warnings.filterwarnings(...)`, `sklearn.set_config(...)`.
SETTINGS_CALLS = frozenset(
    {
        "set_option",
        "reset_option",
        "set_printoptions",
        "seterr",
        "set_config",
        "use",
        "rc",
        "rcdefaults",
        "filterwarnings",
        "simplefilter",
        "resetwarnings",
        "set",
        "set_theme",
        "set_style",
        "set_context",
        "set_palette",
        "set_default_dtype",
        "set_num_threads",
        "set_float32_matmul_precision",
        "set_grad_enabled",
        "basicConfig",
        "captureWarnings",
        "setrecursionlimit",
        "setLevel",
        "disable",
    }
)
# Calls returning a module's current settings object, assigned or configured through as in
# `decimal.getcontext().prec = 5` or `logging.getLogger("x").setLevel(...)`: that changes the
# module's settings.
SETTINGS_GETTERS = frozenset({"getcontext", "getLogger"})
# Methods that change their container in place, as in `sys.path.append(...)`: on an attribute of
# a name (never a bare `np.append(a, v)`, which is a function returning a new array).
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "popitem",
        "clear",
        "update",
        "setdefault",
        "add",
        "discard",
        "__setitem__",
        "__delitem__",
    }
)
# Shell escapes: `!cmd` and `x = !cmd`; `$name` / `{expr}` interpolate variables.
SHELL_CALLS = frozenset({"system", "getoutput"})
