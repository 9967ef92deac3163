"""The report's charts, drawn by matplotlib as SVG to inline in the page.

matplotlib is an optional extra (`agegate[report]`) and is imported here
alone, on the first chart. Every setting that would make two runs differ
is fixed: the Agg backend, the ids' hash salt, no creation date in the
metadata, text kept as text (`svg.fonttype: none`, so no glyph outlines
and the page's own font draws it) and no mathtext, so a `$` in a label is
a dollar sign.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

from ...errors import InputError

__all__ = ["INSTALL_HINT", "bar_chart", "load"]

INSTALL_HINT = (
    "the report draws its charts with matplotlib: pip install 'agegate[report]'"
)

# The page's palette: the accent for counts, a quieter tone for the rest.
ACCENT = "#2457a6"
SECOND = "#9bb3d9"
ALERT = "#b3261e"
GOOD = "#1a7f37"
HOLD = "#9a6700"
INK = "#1f2328"
GRID = "#d0d7de"

_SETTINGS: dict[str, Any] = {
    "svg.hashsalt": "agegate-report",
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.edgecolor": GRID,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
# No date (two runs would differ) and no creator block repeated in every
# chart: the page says what made it.
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_PROLOGUE = re.compile(r"\A.*?(?=<svg)", re.DOTALL)


def load() -> Any:
    """matplotlib's pyplot on the Agg backend, or an InputError that says
    how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    settings: Any = matplotlib.rcParams
    settings.update(_SETTINGS)
    return plt


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    horizontal: bool = False,
    value_label: str = "flags",
    legend: bool = True,
    name: str = "chart",
) -> str:
    """One bar chart as an `<svg>` element: `series` is (name, values,
    colour); several series are stacked, with a legend."""
    plt = load()
    count = max(1, len(labels))
    size = (5.4, 0.7 + 0.26 * count) if horizontal else (5.4, 3.2)
    figure, axes = plt.subplots(figsize=size, layout="constrained")
    try:
        _draw(axes, labels, series, horizontal)
        axes.set_xlabel(value_label) if horizontal else axes.set_ylabel(value_label)
        (axes.xaxis if horizontal else axes.yaxis).grid(True, color=GRID, linewidth=0.6)
        axes.set_axisbelow(True)
        if legend and len(series) > 1:
            # Outside the axes: a legend inside covers the tallest bars.
            figure.legend(loc="outside upper right", ncols=len(series), frameon=False)
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata=_NO_METADATA)
    finally:
        plt.close(figure)
    return _own_ids(_PROLOGUE.sub("", out.getvalue(), count=1), name)


_ID = re.compile(r'(\bid="|xlink:href="#|url\(#)([A-Za-z0-9_-]+)')


def _own_ids(svg: str, name: str) -> str:
    """The chart's ids prefixed with its name: matplotlib names shapes by a
    hash of their content, so two charts on one page would share ids."""
    return _ID.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", svg)


def _draw(
    axes: Any,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    horizontal: bool,
) -> None:
    from matplotlib.ticker import MaxNLocator

    places = list(range(len(labels)))
    base = [0.0] * len(labels)
    for name, values, colour in series:
        if horizontal:
            axes.barh(places, values, left=base, color=colour, label=name, height=0.7)
        else:
            axes.bar(places, values, bottom=base, color=colour, label=name, width=0.7)
        base = [b + v for b, v in zip(base, values, strict=True)]
    if horizontal:
        axes.set_yticks(places, labels)
        axes.invert_yaxis()
        axes.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    else:
        # At most a dozen labels: a label on every bar of five years of
        # months would overlap its neighbours.
        step = -(-len(labels) // 12) if labels else 1
        axes.set_xticks(
            places[::step],
            labels[::step],
            rotation=35 if len(labels) > 4 else 0,
            ha="right" if len(labels) > 4 else "center",
            rotation_mode="anchor",
        )
        axes.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
