"""Build hook: compile ``elastic_kernel/_audit_hook.c`` when a C compiler is there.

The extension only makes the effects watcher cheaper (see the C file); without a compiler the
build goes on and the kernel uses its Python audit hook, so an install never fails for it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("elastic_kernel") / "_audit_hook.c"


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        target = root / "elastic_kernel" / f"_audit_hook{sysconfig.get_config_var('EXT_SUFFIX')}"
        if not _compile(root / SOURCE, target):
            return
        if version != "editable":
            build_data["pure_python"] = False
            build_data["infer_tag"] = True
            build_data["force_include"][str(target)] = str(target.relative_to(root))


def _compile(source: Path, target: Path) -> bool:
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    command = [
        *compiler,
        "-shared",
        "-fPIC",
        "-O2",
        "-Wall",
        f"-I{sysconfig.get_paths()['include']}",
        str(source),
        "-o",
        str(target),
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        print(
            f"elastic_kernel: not building the C audit hook ({detail.strip()}); the kernel "
            "uses its Python hook instead (imports and id()-heavy code run slower)",
            file=sys.stderr,
        )
        return False
    return True
