"""Scenario discovery figures (sim.plots.discovery): the artists drawn, not pixels.

Discoveries are found cheaply on synthetic data (2,000 rows, four uniform parameters,
``resamples=3``) whose answer is known: the outcome inside a box on two parameters (plus
5% noise), on one, on none (pure noise), on a number and a word (a categorical
parameter), and sweep points of 100 runs each. For each, both figures must render with
the expected panels, mark and label the chosen box, draw the box's rectangle at its
limits, and have no two texts overlapping and no two legend entries alike (the checks of
tests/test_figure_layout.py).
"""

from __future__ import annotations

from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from test_figure_layout import legend_problems, overlapping_texts

from sim.analysis.discover import Discovery, DiscoveryData, discover, prim
from sim.plots.discovery import MAX_POINTS, _path_label, plot_box_pairs, plot_tradeoff

ROWS = 2000
NAMES = [f"states.s{i}.policy.param_{i}" for i in range(4)]
A, B = NAMES[0], NAMES[1]
KIND = "states.us.policy.kind"
WORDS = np.array(["tit_for_tat", "proportional", "restrained"])


def synthetic(case: str, rows: int = ROWS) -> DiscoveryData:
    """Four uniform parameters; the outcome where the case puts it, else 5% of rows."""
    rng = np.random.default_rng(7)
    x = pd.DataFrame({name: rng.uniform(0.0, 1.0, rows) for name in NAMES})
    a, b = x[A].to_numpy(), x[B].to_numpy()
    trials = np.ones(rows, dtype=np.int64)
    outcome, source = "spiral", "runs"
    if case in ("two", "sweep"):
        p = np.where((a > 0.6) & (b < 0.4), 0.95, 0.05)
    elif case == "one":
        p = np.where(a > 0.6, 0.9, 0.05)
        outcome = "de_escalation"
    elif case == "none":
        p = np.full(rows, 0.2)
    elif case == "words":
        x[KIND] = WORDS[rng.integers(0, len(WORDS), rows)]
        p = np.where((x[KIND] == "tit_for_tat") & (a > 0.5), 0.95, 0.05)
    else:
        raise ValueError(case)
    if case == "sweep":
        trials = np.full(rows, 100, dtype=np.int64)
        source = "points"
    hits = rng.binomial(trials, p).astype(np.int64)
    return DiscoveryData(x, hits, trials, outcome, source)


@pytest.fixture(scope="module")
def found() -> dict[str, Discovery]:
    out = {
        case: discover(data, data.outcome, resamples=3)
        for case, data in ((c, synthetic(c)) for c in ("two", "one", "words"))
    }
    out["sweep"] = discover(synthetic("sweep"), resamples=3)
    # Noise: PRIM's last box restricts parameters, none significantly, so the final box
    # (all restrictions dropped) differs from the box on the trajectory.
    noise = synthetic("none")
    out["none"] = discover(noise, resamples=3, box=len(prim(noise).boxes) - 1)
    return out


@pytest.fixture(scope="module")
def figures(found) -> dict[tuple[str, str], Figure]:
    """Each case's two figures, drawn once for all the tests."""
    out = {}
    for case, discovery in found.items():
        out[case, "tradeoff"] = plot_tradeoff(discovery)
        out[case, "pairs"] = plot_box_pairs(discovery)
    return out


CASES = ["two", "one", "none", "words", "sweep"]


def by_gid(artists, gid: str) -> list:
    return [a for a in artists if a.get_gid() == gid]


def one(artists, gid: str):
    found = by_gid(artists, gid)
    assert len(found) == 1, f"{gid}: {len(found)} found"
    return found[0]


def panels(fig: Figure) -> list:
    """The figure's plot panels (not its colour bar or legend panel)."""
    return [
        ax
        for ax in fig.axes
        if str(ax.get_gid()).startswith(("pair:", "rate:")) or ax.get_gid() == "no_box"
    ]


# ---------------------------------------------------------------- the data are as meant
def test_the_synthetic_cases_find_the_boxes_they_were_made_with(found):
    assert {lim.name for lim in found["two"].box.limits} == {A, B}
    assert {lim.name for lim in found["sweep"].box.limits} == {A, B}
    assert [lim.name for lim in found["one"].box.limits] == [A]
    assert {lim.name for lim in found["words"].box.limits} == {A, KIND}
    assert found["none"].box.limits == ()
    chosen = found["none"].trajectory.boxes[found["none"].chosen]
    assert chosen.limits and chosen.coverage != found["none"].box.coverage


# ---------------------------------------------------------------------- the trade-off
@pytest.mark.parametrize("case", CASES)
def test_the_tradeoff_shows_the_trajectory_and_marks_the_chosen_box(case, found, figures):
    discovery, fig = found[case], figures[case, "tradeoff"]
    ax = next(a for a in fig.axes if by_gid(a.collections, "trajectory"))
    assert len(fig.axes) == 2  # the plot and its colour bar
    table = discovery.trajectory.table()
    points = one(ax.collections, "trajectory")
    assert np.allclose(points.get_offsets()[:, 0], 100 * table["coverage"])
    assert np.allclose(points.get_offsets()[:, 1], 100 * table["density"])
    assert np.array_equal(points.get_array(), table["restricted"])
    assert ax.get_xlim() == (0.0, 100.0) and ax.get_ylim() == (0.0, 100.0)

    chosen = discovery.trajectory.boxes[discovery.chosen]
    at = (100 * chosen.coverage, 100 * chosen.density)
    marker = one(ax.get_lines(), "chosen_box")
    assert np.allclose([marker.get_xdata()[0], marker.get_ydata()[0]], at)
    label = one(ax.texts, "chosen_box_label")
    assert label.get_text().startswith(
        f"box {discovery.chosen}: coverage {at[0]:.1f}%, density {at[1]:.1f}%"
    )
    line = one(ax.get_lines(), "chosen_box_line")  # from the label's edge to the ring
    start = np.array([line.get_xdata()[0], line.get_ydata()[0]])
    end = np.array([line.get_xdata()[-1], line.get_ydata()[-1]])
    centre = 100 * np.array(label.get_position())  # axes fraction; the axes span 0-100%
    assert np.hypot(*(end - at)) < 4  # percentage points: the ring's radius
    assert np.hypot(*(start - centre)) < np.hypot(*(end - centre))

    base = 100 * discovery.base_rate
    line = one(ax.get_lines(), "base_rate")
    assert np.allclose(line.get_ydata(), base) and line.get_linestyle() == "--"
    assert one(ax.texts, "base_rate_label").get_text() == f"base rate {base:.1f}%"

    # the colour bar counts restricted parameters in whole numbers
    bar = next(a for a in fig.axes if a is not ax)
    ticks = bar.get_yticks()
    assert np.allclose(ticks, np.round(ticks)) and ticks.max() == max(table["restricted"].max(), 1)

    final = (100 * discovery.box.coverage, 100 * discovery.box.density)
    marked = by_gid(ax.get_lines(), "final_box")
    if np.allclose(final, at):
        assert not marked and not by_gid(ax.texts, "final_box_label")
    else:
        assert np.allclose([marked[0].get_xdata()[0], marked[0].get_ydata()[0]], final)
        assert f"coverage {final[0]:.1f}%" in one(ax.texts, "final_box_label").get_text()


def test_the_final_box_is_marked_when_restrictions_were_dropped(found, figures):
    ax = figures["none", "tradeoff"].axes[0]
    assert found["none"].dropped
    assert by_gid(ax.get_lines(), "final_box")
    assert "insignificant" in one(ax.texts, "final_box_label").get_text()


def test_the_title_names_the_outcome_in_words(figures):
    title = figures["one", "tradeoff"].axes[0].get_title()
    assert "de-escalation" in title and "de_escalation" not in title
    assert "spiral" in figures["two", "tradeoff"].axes[0].get_title()


def test_the_tradeoff_draws_on_a_given_axes(found):
    fig = Figure(figsize=(12, 6), layout="constrained")
    left, right = fig.subplots(1, 2)
    assert plot_tradeoff(found["two"], ax=right) is fig
    assert by_gid(right.collections, "trajectory") and not left.collections


# ------------------------------------------------------------------------- the box
def test_a_box_on_two_parameters_is_one_scatter_panel_with_the_box_drawn(found, figures):
    discovery, fig = found["two"], figures["two", "pairs"]
    (ax,) = panels(fig)
    limits = {lim.name: lim for lim in discovery.box.limits}
    x_name, y_name = ax.get_gid().removeprefix("pair:").split("|")
    assert {x_name, y_name} == {A, B}
    rect = one(ax.patches, "box")
    assert isinstance(rect, Rectangle)
    assert np.isclose(rect.get_x(), limits[x_name].low)
    assert np.isclose(rect.get_x() + rect.get_width(), limits[x_name].high)
    assert np.isclose(rect.get_y(), limits[y_name].low)
    assert np.isclose(rect.get_y() + rect.get_height(), limits[y_name].high)
    assert ax.get_xlabel() == x_name and ax.get_ylabel() == y_name

    # single runs: cases of interest in the outcome's colour, on top of the others
    cases, others = one(ax.collections, "cases"), one(ax.collections, "others")
    hits = discovery.data.hits
    assert len(cases.get_offsets()) == hits.sum()
    assert len(others.get_offsets()) == ROWS - hits.sum()
    assert np.allclose(cases.get_offsets()[:, 0], discovery.data.x[x_name][hits > 0])
    assert cases.get_zorder() > others.get_zorder()
    assert not np.allclose(cases.get_facecolor()[0][:3], others.get_facecolor()[0][:3])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "run ending in spiral" in legend


def test_many_runs_are_thinned_to_every_kth(found):
    """9,000 rows: every third is drawn (3,000 points), the same ones every time."""
    big = synthetic("two", rows=9000)
    fig = plot_box_pairs(replace(found["two"], data=big))
    (ax,) = panels(fig)
    cases, others = one(ax.collections, "cases"), one(ax.collections, "others")
    drawn = len(cases.get_offsets()) + len(others.get_offsets())
    assert drawn == 3000 <= MAX_POINTS
    x_name = ax.get_gid().removeprefix("pair:").split("|")[0]
    shown = np.arange(0, 9000, 3)
    assert np.allclose(
        cases.get_offsets()[:, 0], big.x[x_name].to_numpy()[shown][big.hits[shown] > 0]
    )
    assert any("every 3rd run shown" in t.get_text() for t in ax.texts)


def test_a_box_on_one_parameter_shows_the_rate_against_it(found, figures):
    discovery, fig = found["one"], figures["one", "pairs"]
    (ax,) = panels(fig)
    (limit,) = discovery.box.limits
    assert ax.get_gid() == f"rate:{limit.name}"
    rect = one(ax.patches, "box")
    assert np.isclose(rect.get_x(), limit.low)
    assert np.isclose(rect.get_x() + rect.get_width(), limit.high)
    # the rate drawn per bin: about 5% below the box's edge and 90% inside it
    line = next(line for line in ax.get_lines() if line.get_gid() == "rate")
    x, y = line.get_xdata(), line.get_ydata()
    assert len(x) == 20
    assert np.all(y[x < 0.55] < 15) and np.all(y[x > 0.65] > 75)
    assert np.isclose(one(ax.get_lines(), "base_rate").get_ydata()[0], 100 * discovery.base_rate)
    assert "de-escalation" in ax.get_title()


def test_no_box_says_so(figures):
    fig = figures["none", "pairs"]
    (ax,) = panels(fig)
    text = one(ax.texts, "no_box_text").get_text()
    assert text.startswith("no box: no restriction raises the density significantly")
    assert not by_gid(ax.patches, "box")


def test_a_categorical_parameter_goes_on_an_axis_of_its_words(found, figures):
    discovery, fig = found["words"], figures["words", "pairs"]
    (ax,) = panels(fig)
    limits = {lim.name: lim for lim in discovery.box.limits}
    assert limits[KIND].values == ("tit_for_tat",)
    x_name, y_name = ax.get_gid().removeprefix("pair:").split("|")
    axis = ax.yaxis if y_name == KIND else ax.xaxis
    words = [t.get_text() for t in axis.get_ticklabels()]
    assert words == sorted(WORDS)  # codes in np.unique's order, as PRIM's
    code = words.index("tit_for_tat")
    rect = one(ax.patches, "box")
    low, size = (
        (rect.get_y(), rect.get_height()) if y_name == KIND else (rect.get_x(), rect.get_width())
    )
    assert low < code < low + size and size < 1  # the word's band, and only it
    other = x_name if y_name == KIND else y_name
    start, extent = (
        (rect.get_x(), rect.get_width()) if y_name == KIND else (rect.get_y(), rect.get_height())
    )
    assert np.isclose(start, limits[other].low) and np.isclose(start + extent, limits[other].high)


def test_sweep_points_are_coloured_by_their_rate(found, figures):
    discovery, fig = found["sweep"], figures["sweep", "pairs"]
    (ax,) = panels(fig)
    points = one(ax.collections, "points")
    rates = points.get_array()
    assert len(rates) == ROWS and rates.min() >= 0 and rates.max() <= 1
    data = discovery.data
    assert np.allclose(np.sort(rates), np.sort(data.hits / data.trials))
    assert not by_gid(ax.collections, "cases")
    assert len(fig.axes) == 2  # the panel and its colour bar
    assert "P(spiral)" in fig.axes[1].get_ylabel()
    limits = {lim.name: lim for lim in discovery.box.limits}
    x_name, y_name = ax.get_gid().removeprefix("pair:").split("|")
    rect = one(ax.patches, "box")
    assert np.isclose(rect.get_x(), limits[x_name].low)
    assert np.isclose(rect.get_y() + rect.get_height(), limits[y_name].high)


def test_three_parameters_make_a_triangle_of_three_panels(found):
    """A box on three parameters (the first case's box with a third range added)."""
    two = found["two"]
    from sim.analysis.discover import Limit

    third = Limit(NAMES[2], 0.2, 0.7)
    fig = plot_box_pairs(replace(two, box=replace(two.box, limits=(*two.box.limits, third))))
    shown = panels(fig)
    assert len(shown) == 3
    pairs = {tuple(ax.get_gid().removeprefix("pair:").split("|")) for ax in shown}
    names = [lim.name for lim in two.box.limits] + [NAMES[2]]
    assert pairs == {(names[0], names[1]), (names[0], names[2]), (names[1], names[2])}
    for ax in shown:
        if ax.get_gid().endswith("|" + NAMES[2]):
            rect = one(ax.patches, "box")
            assert np.isclose(rect.get_y(), 0.2) and np.isclose(
                rect.get_y() + rect.get_height(), 0.7
            )
    assert not overlapping_texts(fig)


# ---------------------------------------------------------------------- readable
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("which", ["tradeoff", "pairs"])
def test_no_two_texts_overlap_and_legends_can_be_told_apart(case, which, figures):
    fig = figures[case, which]
    assert overlapping_texts(fig) == []
    assert legend_problems(fig) == []


def test_the_overlap_check_would_catch_a_label_moved_onto_the_title(found):
    fig = plot_box_pairs(found["none"])
    one(fig.axes[0].texts, "no_box_text").set_position((0.5, 1.02))
    assert overlapping_texts(fig)


def test_long_paths_are_shortened_but_never_ambiguous():
    names = ["states.united_kingdom.toward.russian_federation.policy.respond_prob", "x.y"]
    label = _path_label(names[0], names, 30)
    assert "states" not in label and label.replace("\n", "") == (
        "united_kingdom.toward.russian_federation.respond_prob"
    )
    assert all(len(line) <= 30 for line in label.split("\n"))
    # two paths that read the same once shortened keep their full form
    twins = ["states.a.policy.some_rather_long_parameter_name", "a.some_rather_long_parameter_name"]
    assert _path_label(twins[0], twins, 30).replace("\n", "") == twins[0]
    assert _path_label("states.us.policy.ratio", twins, 30) == "states.us.policy.ratio"
