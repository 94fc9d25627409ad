"""``python -m elastic_kernel``: the kernel (``-f CONNECTION_FILE``), ``install``, or the CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

CLI_COMMANDS = frozenset({"list", "inspect", "verify", "gc", "run", "-h", "--help"})
# Set (with the seed) when this module re-executed itself for a fixed hash seed.
_REEXECUTED = "_ELASTIC_KERNEL_HASHSEED"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "install":
        from elastic_kernel.install import main as install_main

        return install_main(args[1:])
    if args and args[0] in CLI_COMMANDS:
        from elastic_kernel.cli import main as cli_main

        return cli_main(args)
    if argv is None:
        _fix_hash_seed(args)
    # As ipykernel_launcher does: `python -m` put the launch directory first on sys.path, where
    # a notebook folder's `queue.py` or `types.py` would shadow the standard library for good
    # (IPython adds the working directory back, after the standard library, as "").
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    from ipykernel.kernelapp import IPKernelApp

    from elastic_kernel.kernel import ElasticKernel

    IPKernelApp.launch_instance(argv=args, kernel_class=ElasticKernel)
    return 0


def _fix_hash_seed(args: list[str]) -> None:
    """Run the kernel with string hashing seeded, as in every elastic kernel.

    With Python's per-process random seed, a re-run on restore iterates a set of strings in
    another order (``list({'a', 'b'})``) and recomputes a different value. Unless the user chose
    a seed, the kernel re-executes itself once with ``PYTHONHASHSEED=0`` (same process id, so
    Jupyter's process handling is unaffected), then takes both variables out of ``os.environ``
    so that the processes cells start see the environment a stock kernel would give them.
    """
    if os.environ.get(_REEXECUTED) is not None:
        del os.environ[_REEXECUTED]
        os.environ.pop("PYTHONHASHSEED", None)
        return
    if os.environ.get("PYTHONHASHSEED") is not None:
        return
    os.environ["PYTHONHASHSEED"] = os.environ[_REEXECUTED] = "0"
    os.execv(sys.executable, [sys.executable, "-m", "elastic_kernel", *args])


if __name__ == "__main__":
    sys.exit(main())
