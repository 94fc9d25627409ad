"""The ``elastic-kernel`` command: run notebooks with checkpoints (``run``), install the
kernelspec (``install``) and manage the store (``list``, ``inspect``, ``verify``, ``gc``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime, timezone

from rich.console import Console
from rich.table import Table

from elastic_kernel import config
from elastic_kernel.errors import ElasticError, SignatureError
from elastic_kernel.store import (
    DEFAULT_KEEP,
    CheckpointStore,
    Manifest,
    compare_versions,
    load_or_create_key,
)

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace, Console], int]


def _open_store(args: argparse.Namespace) -> CheckpointStore:
    url = args.store or config.default_store()
    return CheckpointStore(url, key=load_or_create_key(config.default_key_path()))


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def _age(created: str) -> str:
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return "?"
    seconds = (datetime.now(timezone.utc) - moment).total_seconds()
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f} {unit} ago"
    return f"{max(seconds, 0):.0f} s ago"


def _open_for_display(store: CheckpointStore, target: str) -> tuple[Manifest, str]:
    """Open a manifest for display, reporting (not refusing) a bad signature."""
    try:
        return store.open(target, warn_versions=False), "ok"
    except SignatureError as exc:
        logger.debug("signature check failed: %s", exc)
        return store.open(target, trust=True, warn_versions=False), "[red]bad[/red]"


def _cmd_list(args: argparse.Namespace, console: Console) -> int:
    store = _open_store(args)
    table = Table(title=f"Checkpoints in {store.url}")
    for column in ("session", "checkpoint", "age", "groups", "size", "stored", "signature"):
        table.add_column(
            column,
            justify="right" if column in ("size", "stored") else "left",
            # Ids are what users copy into `inspect`/`verify`: never elide them.
            min_width=30 if column == "checkpoint" else None,
            overflow="fold",
        )
    for session in store.list_sessions():
        for ref in store.list_checkpoints(session):
            try:
                manifest, signature = _open_for_display(store, ref.url)
            except ElasticError as exc:
                table.add_row(session, ref.checkpoint_id, "?", "?", "?", "?", f"[red]{exc}[/red]")
                continue
            table.add_row(
                session,
                ref.checkpoint_id,
                _age(manifest.created),
                str(len(manifest.groups)),
                _human_bytes(manifest.size),
                _human_bytes(manifest.stored_size),
                signature,
            )
    console.print(table)
    return 0


def _cmd_inspect(args: argparse.Namespace, console: Console) -> int:
    store = _open_store(args)
    manifest = store.open(args.checkpoint, trust=args.trust, warn_versions=False)
    console.print(f"[bold]checkpoint[/bold] {manifest.checkpoint_id}")
    console.print(f"url        {manifest.url}")
    console.print(f"session    {manifest.session_key}")
    console.print(f"created    {manifest.created} ({_age(manifest.created)})")
    console.print(f"format     {manifest.format_version}")
    console.print(f"python     {manifest.python}")
    packages = ", ".join(f"{k} {v}" for k, v in sorted(manifest.packages.items()))
    console.print(f"packages   {packages}")
    for mismatch in compare_versions(manifest):
        console.print(f"[yellow]version differs:[/yellow] {mismatch}")
    table = Table(title="Stored groups")
    for column in ("#", "variables", "pickler", "blobs", "size", "stored", "fingerprint"):
        table.add_column(column)
    for index, group in enumerate(manifest.groups):
        table.add_row(
            str(index),
            ", ".join(group.names),
            group.pickler,
            str(len(group.blobs)),
            _human_bytes(group.size),
            _human_bytes(group.stored_size),
            group.fingerprint or "-",
        )
    console.print(table)
    for name in sorted(manifest.metadata):
        text = json.dumps(manifest.metadata[name], indent=2, sort_keys=True, default=str)
        if len(text) > 2000:
            text = text[:2000] + f"\n... ({len(text)} characters)"
        console.print(f"[bold]{name}[/bold]")
        console.print(text, soft_wrap=True, markup=False, highlight=False)
    return 0


def _cmd_verify(args: argparse.Namespace, console: Console) -> int:
    store = _open_store(args)
    report = store.verify(args.checkpoint, trust=args.trust)
    for problem in report.problems:
        console.print(f"[red]BAD[/red] {problem}", soft_wrap=True)
    if report.ok:
        console.print(
            f"OK {report.url}: signature and {report.blobs_checked} blobs "
            f"({_human_bytes(report.bytes_checked)}) verified"
        )
        return 0
    return 1


def _cmd_gc(args: argparse.Namespace, console: Console) -> int:
    store = _open_store(args)
    report = store.gc(args.session, keep=args.keep, min_blob_age=args.min_age)
    for url in report.removed_checkpoints:
        console.print(f"removed {url}", soft_wrap=True)
    console.print(
        f"gc: {len(report.removed_checkpoints)} checkpoints and {report.removed_blobs} blobs "
        f"removed, {_human_bytes(report.freed_bytes)} freed"
    )
    return 0


def _add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help=f"store directory or fsspec URL (default: ${config.ENV_STORE}, else "
        "<jupyter data dir>/elastic/checkpoints)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; more subcommands (``install``, ``run``) attach to its subparsers.

    Each subcommand sets ``handler``: a callable ``(args, console) -> exit code``.
    """
    parser = argparse.ArgumentParser(
        prog="elastic-kernel", description="Python 3 (Elastic): manage checkpoints."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="sessions and their checkpoints")
    _add_store_option(listing)
    listing.set_defaults(handler=_cmd_list)

    for name, handler, text in (
        ("inspect", _cmd_inspect, "a checkpoint's groups, sizes, versions and plan"),
        ("verify", _cmd_verify, "check a checkpoint's signature and checksums (exit 0/1)"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument(
            "checkpoint",
            metavar="CKPT",
            help="checkpoint directory or URL, SESSION/ID in the store, or SESSION (latest)",
        )
        _add_store_option(sub)
        sub.add_argument(
            "--trust",
            action="store_true",
            help="accept a missing or foreign signature (loading pickles runs their code)",
        )
        sub.set_defaults(handler=handler)

    gc = commands.add_parser("gc", help="delete old checkpoints and unreferenced blobs")
    _add_store_option(gc)
    gc.add_argument("--keep", type=int, default=DEFAULT_KEEP, metavar="N", help="per session")
    gc.add_argument("--session", default=None, metavar="KEY", help="only this session")
    gc.add_argument(
        "--min-age",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="spare unreferenced blobs younger than this (a write may be in progress)",
    )
    gc.set_defaults(handler=_cmd_gc)

    run = commands.add_parser(
        "run", help="execute a notebook on the elastic kernel, checkpointing as it goes"
    )
    run.add_argument("notebook", metavar="NB.ipynb")
    run.add_argument("-o", "--output", metavar="OUT.ipynb", help="default: NB.out.ipynb")
    _add_store_option(run)
    run.add_argument(
        "--checkpoint-every", type=int, default=5, metavar="N", help="checkpoint every N cells"
    )
    run.add_argument(
        "--slow-seconds",
        type=float,
        default=10.0,
        metavar="S",
        help="also checkpoint after any cell that ran longer than S seconds",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue a run that died from its last checkpoint, keeping finished cells",
    )
    run.add_argument("--session", metavar="KEY", help="session key of the run's checkpoints")
    run.add_argument("--timeout", type=int, default=None, metavar="S", help="per-cell timeout")
    run.set_defaults(handler=_cmd_run)

    install = commands.add_parser("install", help="install the kernelspec", add_help=False)
    install.add_argument("install_args", nargs=argparse.REMAINDER)
    install.set_defaults(handler=_cmd_install)
    return parser


def _cmd_run(args: argparse.Namespace, console: Console) -> int:
    from elastic_kernel.runner import run_notebook

    result = run_notebook(
        args.notebook,
        args.output,
        store=args.store,
        checkpoint_every=args.checkpoint_every,
        slow_seconds=args.slow_seconds,
        resume=args.resume,
        session=args.session,
        timeout=args.timeout,
        log=lambda line: console.print(line, markup=False, highlight=False),
    )
    summary = (
        f"{result.output}: ran {result.cells_run} cells, skipped {result.cells_skipped} "
        f"(restored), {len(result.checkpoints)} checkpoints, {result.seconds:.1f} s"
    )
    console.print(summary, markup=False, highlight=False)
    if not result.ok:
        Console(stderr=True).print(result.error or "run failed", markup=False, soft_wrap=True)
        return 1
    return 0


def _cmd_install(args: argparse.Namespace, console: Console) -> int:
    from elastic_kernel.install import main as install_main

    return install_main(args.install_args)


def main(argv: list[str] | None = None) -> int:
    """Run the ``elastic-kernel`` command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    console = Console()
    errors = Console(stderr=True)
    handler: Handler = args.handler
    try:
        return handler(args, console)
    except ElasticError as exc:
        errors.print(f"{type(exc).__name__}: {exc}", markup=False, soft_wrap=True)
        return 1
    except ValueError as exc:
        errors.print(f"error: {exc}", markup=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
