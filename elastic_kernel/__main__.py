"""``python -m elastic_kernel``: the kernel (``-f CONNECTION_FILE``), ``install``, or the CLI."""

from __future__ import annotations

import sys
from pathlib import Path

CLI_COMMANDS = frozenset({"list", "inspect", "verify", "gc", "run", "-h", "--help"})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "install":
        from elastic_kernel.install import main as install_main

        return install_main(args[1:])
    if args and args[0] in CLI_COMMANDS:
        from elastic_kernel.cli import main as cli_main

        return cli_main(args)
    # As ipykernel_launcher does: `python -m` put the launch directory first on sys.path, where
    # a notebook folder's `queue.py` or `types.py` would shadow the standard library for good
    # (IPython adds the working directory back, after the standard library, as "").
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    from ipykernel.kernelapp import IPKernelApp

    from elastic_kernel.kernel import ElasticKernel

    IPKernelApp.launch_instance(argv=args, kernel_class=ElasticKernel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
