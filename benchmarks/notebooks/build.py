"""Write the benchmark notebooks (``python benchmarks/notebooks/build.py``).

Every notebook is synthetic or uses scikit-learn's bundled datasets, so nothing is downloaded.
The cell sources live here so that a change to a workload is one reviewable diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _cells import NOTEBOOKS  # noqa: E402


def write_all(directory: Path = HERE) -> list[Path]:
    """Write one ``.ipynb`` per workload into ``directory`` and return their paths."""
    paths = []
    for name, (description, cells) in NOTEBOOKS.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        nb.metadata["benchmark"] = {"description": description}
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}\n\n{description}")] + [
            nbformat.v4.new_code_cell(source.strip("\n")) for source in cells
        ]
        for index, cell in enumerate(nb.cells):
            cell["id"] = f"{name}-{index}"
        path = directory / f"{name}.ipynb"
        nbformat.write(nb, path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_all():
        print(written.relative_to(HERE.parent.parent))
