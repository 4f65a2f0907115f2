"""The robust-choice figure: each policy's P(worst outcome) across uncertain worlds, and
its regret.

Left panel, one row per policy: the spread of P over worlds (a bar from the 10th to the
90th percentile of worlds, a tick at the median), the mean over worlds with its 95%
interval, and the mean over the worst decile of worlds. Right panel: regret (P minus the
lowest P of any policy in the same world), its mean, 90th percentile and maximum.
Input: a :class:`sim.analysis.robust.RobustResult`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sim.plots.style import (
    LABEL_SIZE,
    TICK_SIZE,
    _legend_below,
    _new_figure,
    _outcome_name,
    _style,
    _title,
    param_label,
)


def _policy_label(policy: dict[str, Any], scenario: Any = None) -> str:
    return ", ".join(f"{param_label(path, scenario)} {value}" for path, value in policy.items())


def plot_robust(result: Any) -> Figure:
    from sim.analysis.robust import WORST_SHARE, _worst_outcome

    worst = _worst_outcome(result.outcome_names)
    table = result.table()
    ok = table[table["status"] == "ok"].reset_index(drop=True)
    n = len(ok)
    fig = _new_figure((11.0, max(3.2, 1.0 + 0.42 * n + 1.6)))
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
    y = np.arange(n)[::-1]
    colour = _style(worst, 0).get("color", "C3")
    regret = result.regret(worst)
    for row, yi in zip(ok.itertuples(index=False), y, strict=True):
        r = row._asdict()
        i = int(r["policy"])
        p = result.shares[worst][i]
        lo, med, hi = np.quantile(p, [0.1, 0.5, 0.9])
        left.barh(yi, hi - lo, left=lo, height=0.5, color=colour, alpha=0.22, linewidth=0)
        left.plot([med, med], [yi - 0.25, yi + 0.25], color=colour, alpha=0.6, linewidth=1.2)
        mean = r[f"p_{worst}"]
        left.errorbar(
            mean,
            yi,
            xerr=[[mean - r[f"ci95_low_{worst}"]], [r[f"ci95_high_{worst}"] - mean]],
            fmt="o",
            color="black",
            markersize=5,
            capsize=3,
        )
        left.plot(r[f"worst_decile_{worst}"], yi, marker="x", color=colour, markersize=8, mew=2)
        reg = regret[i]
        right.barh(yi, np.quantile(reg, 0.9), height=0.5, color="0.75", linewidth=0)
        right.plot(reg.mean(), yi, "o", color="black", markersize=5)
        right.plot(reg.max(), yi, marker="|", color="black", markersize=12, mew=2)
    scenario = getattr(result, "scenario", None)
    labels = [_policy_label(result.policies[int(i)], scenario) for i in ok["policy"]]
    left.set_yticks(y, labels, fontsize=TICK_SIZE)
    if result.reference in set(ok["policy"].astype(int)):
        k = list(ok["policy"].astype(int)).index(result.reference)
        left.get_yticklabels()[k].set_fontweight("bold")
    name = _outcome_name(worst)
    left.set_xlabel(f"P({name}) in a world", fontsize=LABEL_SIZE)
    right.set_xlabel("regret, percentage points", fontsize=LABEL_SIZE)
    left.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    right.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}")
    for ax in (left, right):
        ax.tick_params(labelsize=TICK_SIZE)
        ax.grid(axis="x", color="0.9")
        ax.set_axisbelow(True)
    left.set_xlim(0, 1)
    right.set_xlim(left=0)
    _title(
        left,
        f"P({name}) by policy across {result.n_worlds} uncertain worlds",
        f"{result.runs_per_world} runs per world, the same runs for every policy; "
        f"the reference policy in bold",
    )
    _title(right, "Regret", f"in each world, P({name}) minus the lowest of any policy there")
    _legend_below(
        left,
        [
            Patch(color=colour, alpha=0.22),
            Line2D([], [], color="black", marker="o", linestyle="-", markersize=5),
            Line2D([], [], color=colour, marker="x", linestyle="none", markersize=8, mew=2),
        ],
        [
            "10th-90th percentile of worlds",
            "mean over worlds, 95% interval",
            f"mean of the worst {100 * WORST_SHARE:.0f}% of worlds",
        ],
        fontsize=TICK_SIZE,
        ncols=1,
        frameon=False,
    )
    _legend_below(
        right,
        [
            Patch(color="0.75"),
            Line2D([], [], color="black", marker="o", linestyle="none", markersize=5),
            Line2D([], [], color="black", marker="|", linestyle="none", markersize=12, mew=2),
        ],
        ["90th percentile", "mean", "maximum"],
        fontsize=TICK_SIZE,
        ncols=1,
        frameon=False,
    )
    return fig
