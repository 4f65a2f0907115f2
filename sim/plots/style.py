"""Shared styling and helpers of every figure family.

Font sizes, the colour map and the PNG resolution; the line style, marker, colour and
hatch of each outcome (read from :mod:`sim.outcome_classes` when a figure is drawn);
readable labels for parameters and outcomes; and the small helpers the figure modules
share: a new figure or the one an Axes is on, the title with its note line, slanted
tick labels and the text box drawn over data.
"""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.outcome_classes import registered_outcomes

#: Perceptually uniform and readable by colour-blind readers and in greyscale.
CMAP = "cividis"
PNG_DPI = 150
TITLE_SIZE = 13
LABEL_SIZE = 12
TICK_SIZE = 10
NOTE_SIZE = 10


def _outcome_styles() -> dict[str, dict[str, Any]]:
    """Line style, marker and colour per declared outcome, read when a figure is drawn."""
    return {
        c.name: {"color": c.color, "linestyle": c.linestyle, "marker": c.marker}
        for c in registered_outcomes()
    }


def _outcome_hatches() -> dict[str, str]:
    """Hatch per declared outcome for bars, read when a figure is drawn."""
    return {c.name: c.hatch for c in registered_outcomes()}


#: Line style, marker and colour (Okabe-Ito) per outcome: told apart without colour.
#: (The outcomes declared at import; the figures read them afresh when drawn.)
OUTCOME_STYLES: dict[str, dict[str, Any]] = _outcome_styles()
#: Styles and hatches for outcomes not declared in :mod:`sim.outcome_classes`.
_SPARE_STYLES = [
    {"color": "#009E73", "linestyle": "-.", "marker": "D"},
    {"color": "#CC79A7", "linestyle": (0, (5, 1, 1, 1)), "marker": "v"},
]
_SPARE_HATCHES = ["\\\\\\", "++", "oo"]
#: Path segments that carry no information in an axis label.
_GENERIC_SEGMENTS = {"states", "policy", "params", "parameters"}
#: Half-transparent white box behind text drawn over data.
_TEXT_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}


def param_label(path: str) -> str:
    """A readable label for a dotted parameter path.

    ``"states.us.policy.ratio"`` -> ``"us ratio"``: segments that say nothing
    (``states``, ``policy``) are dropped and underscores become spaces.
    """
    parts = [p for p in str(path).split(".") if p]
    kept = [p for p in parts if p not in _GENERIC_SEGMENTS] or parts[-1:]
    return " ".join(kept).replace("_", " ")


def outcome_label(outcome: str) -> str:
    """``"de_escalation"`` -> ``"P(de-escalation)"``."""
    return f"P({outcome.replace('_', '-')})"


def _outcome_name(outcome: str) -> str:
    """``"de_escalation"`` -> ``"de-escalation"``."""
    return str(outcome).replace("_", "-")


def _style(outcome: str, index: int) -> dict[str, Any]:
    styles = _outcome_styles()
    if outcome in styles:
        return styles[outcome]
    return _SPARE_STYLES[index % len(_SPARE_STYLES)]


def _hatch(outcome: str, index: int) -> str:
    hatches = _outcome_hatches()
    if outcome in hatches:
        return hatches[outcome]
    return _SPARE_HATCHES[index % len(_SPARE_HATCHES)]


def _root_figure(ax: Axes) -> Figure:
    try:
        return ax.get_figure(root=True)  # matplotlib >= 3.10
    except TypeError:  # pragma: no cover - older matplotlib
        return ax.figure


def _new_or_given(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    return _root_figure(ax), ax


def _title(ax: Axes, main: str, *notes: str) -> None:
    """Title on the first line; notes (runs, skipped points) in smaller type under it."""
    note = "; ".join(n for n in notes if n)
    ax.set_title(main, fontsize=TITLE_SIZE, pad=24 if note else 8)
    if note:
        ax.annotate(
            note,
            xy=(0.5, 1.0),
            xycoords="axes fraction",
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=NOTE_SIZE,
            color="0.25",
        )


def _slant(ax: Axes) -> None:
    """Long x tick labels at 30 degrees, each ending under its tick."""
    for tick in ax.get_xticklabels():
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
        tick.set_rotation_mode("anchor")
