"""Install the ``elastic`` kernelspec (``python -m elastic_kernel install``)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

__all__ = ["DEFAULT_DISPLAY_NAME", "DEFAULT_NAME", "install_kernelspec", "main"]

DEFAULT_NAME = "elastic"
DEFAULT_DISPLAY_NAME = "Python 3 (Elastic)"
LOGOS = ("logo-32x32.png", "logo-64x64.png", "logo-svg.svg")


def kernelspec_resources() -> Path:
    """The folder holding kernel.json's template and the logos (wheel or source checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "kernelspec", here.parent / "kernelspec"):
        if (candidate / "kernel.json").is_file():
            return candidate
    raise FileNotFoundError(f"kernelspec resources not found next to {here}")


def install_kernelspec(
    *,
    user: bool = False,
    prefix: str | None = None,
    name: str = DEFAULT_NAME,
    display_name: str = DEFAULT_DISPLAY_NAME,
) -> str:
    """Install the kernelspec and return the directory it went to.

    Parameters
    ----------
    user
        Install into the user's Jupyter data dir.
    prefix
        Install into ``PREFIX/share/jupyter/kernels`` (``sys.prefix`` for ``--sys-prefix``).
    name, display_name
        Kernel name (``jupyter kernelspec list``) and the name frontends show.
    """
    source = kernelspec_resources()
    spec = json.loads((source / "kernel.json").read_text())
    # sys.executable as is: resolving a venv's symlink would run the kernel outside the venv.
    spec["argv"] = [sys.executable, "-m", "elastic_kernel", "-f", "{connection_file}"]
    spec["display_name"] = display_name
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / name
        staging.mkdir()
        (staging / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
        for logo in LOGOS:
            if (source / logo).is_file():
                shutil.copy(source / logo, staging / logo)
        return str(
            KernelSpecManager().install_kernel_spec(
                str(staging), kernel_name=name, user=user, prefix=prefix
            )
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m elastic_kernel install",
        description=f"Install the '{DEFAULT_DISPLAY_NAME}' kernelspec.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="into the user's Jupyter data dir")
    where.add_argument("--sys-prefix", action="store_true", help=f"into {sys.prefix}")
    where.add_argument("--prefix", metavar="DIR", help="into DIR/share/jupyter/kernels")
    parser.add_argument("--name", default=DEFAULT_NAME, help="kernel name (default: %(default)s)")
    parser.add_argument(
        "--display-name", default=DEFAULT_DISPLAY_NAME, help="name shown in frontends"
    )
    args = parser.parse_args(argv)
    prefix = sys.prefix if args.sys_prefix else args.prefix
    path = install_kernelspec(
        user=args.user, prefix=prefix, name=args.name, display_name=args.display_name
    )
    print(f"Installed kernelspec {args.name!r} ({args.display_name}) in {path}")
    return 0
