"""matplotlib (Agg): figures, axes and artists, colormaps, norms, transforms, tickers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.coverage.harness import Scenario

SCENARIO = Scenario(
    library="matplotlib",
    requires=("matplotlib",),
    cells=(
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt, numpy as np\nfrom matplotlib import colors, patches, transforms, ticker, path, lines, text, gridspec\nfig, (ax, ax2) = plt.subplots(1, 2, figsize=(4, 2), dpi=50)\nxs = np.linspace(0, 1, 20)",
        "artists = {'line': ax.plot(xs, xs ** 2, color='C1', label='sq')[0], 'scatter': ax.scatter(xs, xs, c=xs), 'bars': ax2.bar([1, 2], [3, 4]), 'text': ax.text(0.1, 0.5, 'hi'), 'annot': ax.annotate('pt', (0.5, 0.25)), 'legend': ax.legend(), 'fill': ax.fill_between(xs, 0, xs), 'hline': ax.axhline(0.5), 'span': ax.axvspan(0.2, 0.3), 'errbar': ax2.errorbar([1, 2], [1, 2], yerr=0.1), 'image': ax2.imshow(np.eye(3)), 'circle': ax.add_patch(patches.Circle((0.5, 0.5), 0.1)), 'poly': ax.add_patch(patches.Polygon([[0, 0], [1, 0], [0, 1]], alpha=0.2)), 'spine': ax.spines['left'], 'title': ax.set_title('demo'), 'xaxis': ax.xaxis, 'quiver': ax2.quiver([0], [0], [1], [1])}\nax.set_xlim(-0.1, 1.1)\nartists['line'].set_linewidth(3)",
        "fig2 = plt.figure(figsize=(3, 3), dpi=50)\ngs = gridspec.GridSpec(2, 2, figure=fig2)\naxm = fig2.add_subplot(gs[0, :])\nmesh = axm.pcolormesh(np.arange(12.0).reshape(3, 4))\ncontour = fig2.add_subplot(gs[1, 0]).contour(np.random.default_rng(0).random((5, 5)))\nhist = fig2.add_subplot(gs[1, 1]).hist([1, 2, 2, 3], bins=3)",
        "styling = {'cmap': colors.ListedColormap(['r', 'g', 'b']), 'lincmap': colors.LinearSegmentedColormap.from_list('bw', ['k', 'w']), 'viridis': matplotlib.colormaps['viridis'], 'norm': colors.Normalize(0, 2), 'lognorm': colors.LogNorm(1, 100), 'bnorm': colors.BoundaryNorm([0, 1, 2], 2), 'affine': transforms.Affine2D().rotate_deg(30).scale(2), 'bbox': transforms.Bbox([[0, 0], [1, 2]]), 'path': path.Path([[0, 0], [1, 1]]), 'locator': ticker.MaxNLocator(4), 'formatter': ticker.FormatStrFormatter('%.1f'), 'multiloc': ticker.MultipleLocator(0.5), 'free_line': lines.Line2D([0, 1], [1, 0]), 'free_text': text.Text(0, 0, 'x'), 'rect': patches.Rectangle((0, 0), 1, 2), 'ellipse': patches.Ellipse((0, 0), 1, 2)}",
    ),
)


@pytest.mark.coverage
def test_matplotlib(check_scenario: Any) -> None:
    check_scenario(SCENARIO)
