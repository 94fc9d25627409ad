"""Re-running a recorded cell's code in the user namespace, as IPython ran it.

IPython compiles a cell one top-level statement at a time, and that shows in the bytecode: a
function defined in the same compilation unit as an ``import`` of the name it uses compiles
to other instructions (CPython 3.11 skips its method-call form for imported names), so a
re-run that compiled the cell whole would make functions whose fingerprints differ from the
checkpoint's. Each statement is compiled on its own here, with top-level ``await`` allowed.

A restore re-runs cells from inside the kernel's event loop (a magic, a comm op or the step
before a cell), where IPython's own ``run_cell`` cannot run a cell that awaits: its loop
runner finds the kernel's loop already running. Such a statement runs to completion on a
loop of its own, on this thread, as it did when it first ran.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
from collections.abc import Coroutine
from typing import Any

from IPython.core.compilerop import CachingCompiler

__all__ = ["run_code"]


def run_code(
    code: str, namespace: dict[str, Any], *, compiler: CachingCompiler, filename: str
) -> BaseException | None:
    """Run ``code`` in ``namespace`` with the shell's ``compiler`` (which, as in IPython, keeps
    the ``from __future__`` imports it meets for later cells); the exception it raised, if
    any (a SyntaxError too)."""
    try:
        with compiler.extra_flags(ast.PyCF_ALLOW_TOP_LEVEL_AWAIT):
            tree = compiler.ast_parse(code, filename)
            assert isinstance(tree, ast.Module)
            for node in tree.body:
                module = ast.Module([node], type_ignores=[])
                # codeop compiles ASTs as well as text; IPython passes it statements like this.
                compiled = compiler(module, filename, "exec")  # type: ignore[arg-type]
                result = eval(compiled, namespace)
                if compiled.co_flags & inspect.CO_COROUTINE:
                    _run_to_completion(result)
    except Exception as exc:
        return exc
    return None


def _run_to_completion(coroutine: Coroutine[Any, Any, Any]) -> None:
    """Run ``coroutine`` on a fresh event loop on this thread, even when this thread is inside
    a running loop (which is blocked meanwhile, as it is for any cell's code)."""
    outer = asyncio._get_running_loop()
    loop = asyncio.new_event_loop()
    asyncio._set_running_loop(None)
    try:
        loop.run_until_complete(coroutine)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            asyncio._set_running_loop(outer)
