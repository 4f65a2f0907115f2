"""Comparison figures: each variant's change from a baseline, with its paired interval.

:func:`plot_paired_differences` draws, for every outcome, each variant's difference in
probability from the baseline, in percentage points, as a point with its 95% interval
(an error bar) beside a zero line. The interval is the difference's own: paired (from
the run-by-run differences) where the variant and the baseline share their seed and
runs, which is much narrower than the two probabilities' own intervals suggest. That
is why a comparison is drawn this way rather than as bars of each variant's
probability with its own interval (:func:`sim.plots.plot_outcome_probabilities`).

Input: a :class:`sim.analysis.compare.Comparison` (``sim.compare_results``), or a plain
mapping ``{variant: {outcome: {"diff", "ci95_low", "ci95_high", "method"}}}`` of
shares (0 to 1) and a baseline label. Outcome colours and names come from
:mod:`sim.plots.style`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.analysis.compare import Comparison
from sim.outcome_classes import display_order, registered_outcomes
from sim.plots.style import (
    _TEXT_BOX,
    LABEL_SIZE,
    NOTE_SIZE,
    TICK_SIZE,
    _new_or_given,
    _outcome_name,
    _style,
    _title,
)

#: One marker per variant (the outcome sets the colour).
_VARIANT_MARKERS = ["o", "s", "D", "^", "v", "P", "X", "<", ">", "*"]
#: Each method's interval, in the legend when methods are mixed ...
_METHOD_NOTES = {
    "paired": "paired on the same runs: interval from the run-by-run differences",
    "independent": "independent estimates: interval from the two Wilson intervals",
    "none": "runs partly shared: no interval",
}
#: ... and under the title when they are not.
_TITLE_NOTES = {
    "paired": "paired on the same runs: 95% intervals from the run-by-run differences",
    "independent": "independent estimates: 95% intervals from the two Wilson intervals",
    "none": "runs partly shared: no interval can be given",
}
#: The error bar's line style per method (``none`` has no bar).
_LINES = {"paired": "-", "independent": "--", "none": "none"}


def _points(value: float) -> str:
    return f"{100 * value:+.1f}".replace("-", "\N{MINUS SIGN}")


def plot_paired_differences(
    comparison: Comparison | Mapping[str, Mapping[str, Mapping[str, Any]]],
    baseline: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Each variant's change in each outcome's probability from the baseline, with its
    95% interval, in percentage points.

    ``comparison`` is what ``sim.compare_results`` returns, or a mapping ``{variant:
    {outcome: {"diff": d, "ci95_low": lo, "ci95_high": hi, "method": m}}}`` (shares;
    ``method`` ``"paired"``, ``"independent"`` or ``"none"``, default ``"paired"``) with
    ``baseline`` the label of what they are compared with. One row per outcome (calm
    first, unresolved last); within it one point per variant (a marker each), with an
    error bar: solid and filled where paired, dashed and hollow where the estimates are
    independent, none where there is no interval. A vertical line marks no change;
    with three variants or fewer the values are written beside the points.
    """
    runs_note = ""
    if isinstance(comparison, Comparison):
        baseline = comparison.baseline if baseline is None else baseline
        runs = {r["runs"] for r in comparison.results.values()}
        runs_note = f"{runs.pop():,} runs each" if len(runs) == 1 else ""
        data = comparison.differences()
    else:
        data = {str(k): dict(v) for k, v in comparison.items()}
    if not data or not any(data.values()):
        raise ValueError("comparison: no differences to plot")
    if baseline is None:
        raise ValueError("baseline: name what the variants are compared with")
    variants = list(data)
    found: list[str] = []
    for entry in data.values():
        found += [o for o in entry if o not in found]
    registered = {c.name for c in registered_outcomes()}
    known = [c.name for c in display_order(o for o in found if o in registered)]
    outcomes = known + [o for o in found if o not in known]

    n_out, n_var = len(outcomes), len(variants)
    annotate = n_var <= 3
    height = 1.6 + n_out * max(0.75, 0.38 * n_var)
    fig, ax = _new_or_given(ax, (9.0 if annotate else 8.0, height))
    spread = 0.6 if n_var > 1 else 0.0
    offsets = np.linspace(spread / 2, -spread / 2, n_var) if n_var > 1 else np.zeros(1)
    methods_used: set[str] = set()
    extent = [0.0]
    for i, outcome in enumerate(outcomes):
        colour = _style(outcome, i)["color"]
        centre = n_out - 1 - i  # the first outcome at the top
        for j, variant in enumerate(variants):
            entry = data[variant].get(outcome)
            if entry is None:
                continue
            y = centre + offsets[j]
            diff = 100 * float(entry["diff"])
            method = str(entry.get("method") or "paired")
            if method not in _METHOD_NOTES:
                raise ValueError(
                    f"{variant}, {outcome}: method {method!r}; expected one of "
                    + ", ".join(_METHOD_NOTES)
                )
            methods_used.add(method)
            low, high = entry.get("ci95_low"), entry.get("ci95_high")
            has_ci = method != "none" and low is not None and high is not None
            has_ci = has_ci and np.isfinite(low) and np.isfinite(high)
            marker = _VARIANT_MARKERS[j % len(_VARIANT_MARKERS)]
            hollow = method != "paired"
            if has_ci:
                lo, hi = 100 * float(low), 100 * float(high)
                extent += [lo, hi]
                bars = ax.errorbar(
                    [diff],
                    [y],
                    xerr=[[max(diff - lo, 0.0)], [max(hi - diff, 0.0)]],
                    fmt="none",
                    ecolor=colour,
                    elinewidth=2.0,
                    capsize=4,
                    capthick=2.0,
                    zorder=3,
                )
                for line in bars.lines[2]:
                    line.set_gid(f"ci95_{variant}_{outcome}")
                    line.set_linestyle(_LINES[method])
            extent.append(diff)
            (point,) = ax.plot(
                [diff],
                [y],
                linestyle="none",
                marker=marker,
                markersize=7,
                markerfacecolor="white" if hollow else colour,
                markeredgecolor="black",
                markeredgewidth=0.9,
                zorder=4,
            )
            point.set_gid(f"diff_{variant}_{outcome}")
            if annotate:
                text = _points(entry["diff"])
                text += f"  [{_points(low)}, {_points(high)}]" if has_ci else "  (no interval)"
                if n_var > 1:
                    text = f"{variant}: {text}"
                ax.annotate(
                    text,
                    xy=(1.0, y),
                    xycoords=("axes fraction", "data"),
                    xytext=(6, 0),
                    textcoords="offset points",
                    ha="left",
                    va="center",
                    fontsize=NOTE_SIZE,
                    bbox=_TEXT_BOX,
                    annotation_clip=False,
                ).set_gid(f"value_{variant}_{outcome}")

    ax.axvline(0.0, color="black", linewidth=1.0, zorder=2).set_gid("zero")
    lo, hi = min(extent), max(extent)
    pad = max(0.08 * (hi - lo), 0.5)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.6, n_out - 0.4)
    ax.set_yticks(range(n_out), [_outcome_name(o) for o in reversed(outcomes)])
    for k in range(n_out - 1):
        ax.axhline(k + 0.5, color="0.85", linewidth=0.8, zorder=1)
    ax.tick_params(labelsize=TICK_SIZE)
    ax.set_xlabel(f"Change from {baseline} (percentage points)", fontsize=LABEL_SIZE)
    ax.grid(True, axis="x", color="0.9", linewidth=0.8)
    ax.set_axisbelow(True)
    mixed = len(methods_used) > 1
    handles = []
    if n_var > 1:
        handles += [
            Line2D(
                [],
                [],
                linestyle="none",
                marker=_VARIANT_MARKERS[j % len(_VARIANT_MARKERS)],
                markersize=8,
                markerfacecolor="0.6",
                markeredgecolor="black",
                label=f"{variant} \N{MINUS SIGN} {baseline}",
            )
            for j, variant in enumerate(variants)
        ]
    if mixed:
        handles += [
            Line2D(
                [],
                [],
                color="0.3",
                linestyle=_LINES[m],
                linewidth=2.0,
                marker="o",
                markersize=7,
                markerfacecolor="0.3" if m == "paired" else "white",
                markeredgecolor="black",
                label=_METHOD_NOTES[m],
            )
            for m in _METHOD_NOTES
            if m in methods_used
        ]
    if handles:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=1 if mixed else min(n_var, 3),
            fontsize=NOTE_SIZE,
            frameon=False,
        )
    if mixed:
        notes = ["95% intervals; how each is estimated: below"]
    else:
        notes = [_TITLE_NOTES[next(iter(methods_used))]]
    if runs_note:
        notes.append(runs_note)
    main = title
    if main is None:
        main = f"{variants[0]}: change from {baseline}" if n_var == 1 else f"Change from {baseline}"
    _title(ax, main, *notes)
    return fig
