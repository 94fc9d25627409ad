"""``python -m elastic_kernel``: the kernel (``-f CONNECTION_FILE``), ``install``, or the CLI."""

from __future__ import annotations

import sys

CLI_COMMANDS = frozenset({"list", "inspect", "verify", "gc", "run", "-h", "--help"})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "install":
        from elastic_kernel.install import main as install_main

        return install_main(args[1:])
    if args and args[0] in CLI_COMMANDS:
        from elastic_kernel.cli import main as cli_main

        return cli_main(args)
    from ipykernel.kernelapp import IPKernelApp

    from elastic_kernel.kernel import ElasticKernel

    IPKernelApp.launch_instance(argv=args, kernel_class=ElasticKernel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
