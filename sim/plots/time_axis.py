"""Date handling shared by the figures over time (fan chart, cumulative incidence).

Dates in any common form turned into ``datetime64[D]`` and checked, and a concise
date axis that always says the year.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes

from sim.plots.style import LABEL_SIZE, TICK_SIZE


def _as_days(dates: Any, what: str = "dates") -> np.ndarray:
    """Dates (``datetime.date``, ``datetime64``, strings, Timestamps) as ``datetime64[D]``."""
    try:
        days = pd.to_datetime(pd.Series(list(np.atleast_1d(np.asarray(dates, dtype=object)))))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: expected dates, {exc}") from exc
    if days.isna().any():
        raise ValueError(f"{what}: missing dates")
    return days.to_numpy().astype("datetime64[D]")


def _as_day(date: Any, what: str) -> np.datetime64:
    return _as_days([date], what)[0]


def _check_dates(days: np.ndarray) -> None:
    if days.size == 0:
        raise ValueError("dates: no dates to plot")
    if days.size > 1 and not (np.diff(days) > np.timedelta64(0, "D")).all():
        raise ValueError("dates: expected strictly increasing dates")


class _YearedConciseFormatter(mdates.ConciseDateFormatter):
    """Concise date labels; the first tick also gets its year when nothing else shows it.

    (:class:`~matplotlib.dates.ConciseDateFormatter` writes the year only at January
    ticks when the ticks span years, so a range starting in May would not say which.)
    """

    def format_ticks(self, values: Any) -> list[str]:
        labels = list(super().format_ticks(values))
        if labels and not self.get_offset() and not re.search(r"\d{4}", labels[0]):
            labels[0] = f"{labels[0]}\n{mdates.num2date(values[0]).year}"
        return labels


def _date_axis(ax: Axes, days: np.ndarray) -> None:
    """Concise date ticks over the dates' range (half a step of margin on each side)."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(_YearedConciseFormatter(locator))
    first, last = mdates.date2num(days[0]), mdates.date2num(days[-1])
    pad = (last - first) / (days.size - 1) / 2 if days.size > 1 else 3.5
    ax.set_xlim(first - pad, last + pad)
    ax.tick_params(axis="x", labelsize=TICK_SIZE)
    ax.xaxis.get_offset_text().set_fontsize(TICK_SIZE)
    ax.set_xlabel("Date (last day of each step)", fontsize=LABEL_SIZE)
