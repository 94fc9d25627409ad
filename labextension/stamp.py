"""Record which source the committed labextension build came from, so a test can tell a stale
build without node: ``python labextension/stamp.py`` after ``jupyter labextension build``."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent
BUILT = SOURCE.parent / "elastic_kernel" / "labextension"
STAMP = BUILT / "build-stamp.json"
# Everything the build reads from the source tree; node_modules is fixed by yarn.lock.
INPUTS = ("package.json", "yarn.lock", "tsconfig.json", ".yarnrc.yml", "src", "schema", "style")


def source_files(root: Path = SOURCE) -> list[Path]:
    """The build's input files under ``root``, sorted."""
    files: list[Path] = []
    for name in INPUTS:
        path = root / name
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return files


def source_hash(root: Path = SOURCE) -> str:
    """SHA-256 over the relative path and bytes of every input (line endings normalised)."""
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def main() -> int:
    if not (BUILT / "package.json").is_file():
        print(f"no build in {BUILT}: run `make labextension` first", file=sys.stderr)
        return 1
    STAMP.write_text(json.dumps({"source_sha256": source_hash()}, indent=1) + "\n")
    print(f"wrote {STAMP}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
