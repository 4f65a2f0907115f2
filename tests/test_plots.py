"""Plots: the matplotlib objects drawn, not pixels; and saving.

Sweep and sensitivity plots, then the single-scenario plots (fan chart, cumulative
incidence, outcome bars, time to outcome) from synthetic data.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.container import BarContainer
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

import sim
from sim.plots import (
    param_label,
    plot_cumulative_incidence,
    plot_fan_chart,
    plot_outcome_probabilities,
    plot_sensitivity,
    plot_sweep_curve,
    plot_sweep_heatmap,
    plot_time_to_outcome,
    save_figure,
)
from sim.plots.style import (
    FIGURE_DPI,
    event_label,
    mission_label,
    scenario_title,
    state_label,
)
from sim.plots.sweeps import param_description, scenario_value
from sim.plots.trajectories import fan_chart_missions, scenario_events
from sim.policies import POLICIES

OUTCOMES = ("spiral", "de_escalation", "unresolved")
X, Y = "states.us.policy.ratio", "states.russia.policy.respond_prob"
RUNS = 400


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def wilson(count: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    p = count / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n * n)) / denominator
    return centre - half, centre + half


def sweep_table(params: list[dict], spiral: list[float], failed=()) -> pd.DataFrame:
    """A per-point table like the sweep's: de-escalation takes 60% of the rest."""
    rows = []
    for i, (values, p_spiral) in enumerate(zip(params, spiral, strict=True)):
        row = {"point": i, **values, "status": "ok", "error": "", "runs": RUNS, "seed": 1}
        p_de = round((1 - p_spiral) * 0.6, 4)
        for outcome, p in zip(OUTCOMES, (p_spiral, p_de, 1 - p_spiral - p_de), strict=True):
            count = round(p * RUNS)
            low, high = wilson(count, RUNS)
            row |= {
                f"p_{outcome}": count / RUNS,
                f"count_{outcome}": count,
                f"ci95_low_{outcome}": low,
                f"ci95_high_{outcome}": high,
            }
        row |= {"weeks_spiral_q50": 30.0, "weeks_de_escalation_q50": np.nan}
        if i in failed:
            row |= {"status": "failed", "error": "ScenarioError: boom"}
            for key in list(row):
                if key.startswith(("p_", "count_", "ci95_", "weeks_")):
                    row[key] = np.nan
        rows.append(row)
    return pd.DataFrame(rows)


XS = [0.25, 0.5, 1.0, 2.0, 2.5]  # unevenly spaced
YS = [0.5, 0.9, 1.0]


def grid_table(surface, failed=()) -> tuple[pd.DataFrame, np.ndarray]:
    """Points over XS x YS (x fastest) and the expected grid, rows = y, columns = x."""
    params = [{X: x, Y: y} for y in YS for x in XS]
    expected = np.array([[surface(x, y) for x in XS] for y in YS])
    points = sweep_table(params, [round(p * RUNS) / RUNS for p in expected.ravel()], failed)
    return points, points["p_spiral"].to_numpy().reshape(len(YS), len(XS))


def crossing(x, y):
    return min(1.0, 0.3 * x * y)


def all_text(ax) -> str:
    """The title and every text on the axes, lines joined (notes wrap to the width)."""
    return " ".join([ax.get_title(), *(t.get_text() for t in ax.texts)]).replace("\n", " ")


def the_legend(ax):
    """The legend of ``ax``: its own, or the one its figure draws below it."""
    legend = ax.get_legend()
    if legend is None and ax.get_figure().legends:
        legend = ax.get_figure().legends[0]
    assert legend is not None
    return legend


def axis_doc(policy: str, key: str) -> str:
    return POLICIES[policy].all_params()[key].doc


def only(items, kind):
    found = [item for item in items if isinstance(item, kind)]
    assert len(found) == 1, found
    return found[0]


def test_param_label():
    assert param_label("states.us.policy.ratio") == "us ratio"
    assert param_label("states.russia.policy.respond_prob") == "russia respond prob"
    assert param_label("outcomes.quiet_weeks") == "outcomes quiet weeks"
    assert param_label("policy") == "policy"


class TestHeatmap:
    def test_mesh_holds_p_in_grid_order(self):
        points, expected = grid_table(crossing)
        fig = plot_sweep_heatmap(points.sample(frac=1, random_state=3), X, Y)
        assert isinstance(fig, Figure)
        mesh = only(fig.axes[0].collections, QuadMesh)
        np.testing.assert_allclose(np.ma.getdata(mesh.get_array()), expected)
        assert mesh.get_clim() == (0.0, 1.0)
        assert mesh.get_cmap().name in ("cividis", "viridis")

    def test_cells_are_bounded_by_midpoints(self):
        points, _ = grid_table(crossing)
        fig = plot_sweep_heatmap(points, X, Y, xscale="linear")
        coords = only(fig.axes[0].collections, QuadMesh).get_coordinates()
        np.testing.assert_allclose(coords[0, :, 0], [0.125, 0.375, 0.75, 1.5, 2.25, 2.75])
        np.testing.assert_allclose(coords[:, 0, 1], [0.3, 0.7, 0.95, 1.05])

    def test_colour_bar_and_labels(self):
        points, _ = grid_table(crossing)
        fig = plot_sweep_heatmap(points, X, Y, outcome="de_escalation")
        ax = fig.axes[0]
        mesh = only(ax.collections, QuadMesh)
        assert mesh.colorbar is not None
        assert mesh.colorbar.ax.get_ylabel() == "P(de-escalation)"
        np.testing.assert_allclose(
            np.ma.getdata(mesh.get_array()).ravel(), points["p_de_escalation"]
        )
        # the name, the dotted path, and what the policies declare it means
        assert ax.get_xlabel() == f"us ratio ({X})\n{axis_doc('proportional', 'ratio')}"
        assert ax.get_ylabel().startswith(f"russia respond prob ({Y})\n")
        assert ax.get_ylabel().split("\n", 1)[1].replace("\n", " ") == axis_doc(
            "tit_for_tat", "respond_prob"
        )
        assert "P(de-escalation)" in ax.get_title()

    def test_half_contour_when_the_surface_crosses_one_half(self):
        points, _ = grid_table(crossing)
        ax = plot_sweep_heatmap(points, X, Y).axes[0]
        contour = only(ax.collections, ContourSet)
        assert list(contour.levels) == [0.5]
        assert any(len(path.vertices) >= 2 for path in contour.get_paths())
        assert [t.get_text() for t in the_legend(ax).get_texts()] == ["P = 0.5"]

    @pytest.mark.parametrize("level", [0.2, 0.8])
    def test_no_contour_when_it_does_not(self, level):
        points, _ = grid_table(lambda x, y: level + 0.01 * x)
        ax = plot_sweep_heatmap(points, X, Y).axes[0]
        assert not [c for c in ax.collections if isinstance(c, ContourSet)]
        assert ax.get_legend() is None and not ax.get_figure().legends
        assert "0.5 everywhere" in all_text(ax)

    def test_failed_points_are_blank_and_noted(self):
        points, expected = grid_table(crossing, failed={1, 7})
        ax = plot_sweep_heatmap(points, X, Y).axes[0]
        array = only(ax.collections, QuadMesh).get_array()
        assert np.ma.getmaskarray(array).sum() == 2
        assert array.mask[0, 1] and array.mask[1, 2]
        np.testing.assert_allclose(array.compressed(), expected[~np.isnan(expected)])
        assert "2 failed points skipped" in all_text(ax)

    def test_no_note_without_failures(self):
        points, _ = grid_table(crossing)
        assert "skipped" not in all_text(plot_sweep_heatmap(points, X, Y).axes[0])

    def test_string_values_are_categories(self):
        kind = "states.beta.policy.kind"
        kinds = ["tit_for_tat", "generous", "grit"]
        params = [{kind: k, Y: y} for y in YS for k in kinds]
        points = sweep_table(params, list(np.linspace(0.1, 0.9, len(params))))
        ax = plot_sweep_heatmap(points, kind, Y).axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == kinds
        array = only(ax.collections, QuadMesh).get_array()
        np.testing.assert_allclose(array.ravel(), points["p_spiral"])

    def test_draws_on_the_given_axes(self):
        points, _ = grid_table(crossing)
        fig, ax = plt.subplots()
        assert plot_sweep_heatmap(points, X, Y, ax=ax) is fig
        assert only(ax.collections, QuadMesh)

    def test_refuses_a_grid_with_repeated_cells(self):
        points, _ = grid_table(crossing)
        with pytest.raises(ValueError, match="other parameters"):
            plot_sweep_heatmap(pd.concat([points, points]), X, Y)

    def test_unknown_column(self):
        points, _ = grid_table(crossing)
        with pytest.raises(KeyError, match=r"states\.nope"):
            plot_sweep_heatmap(points, "states.nope", Y)


CURVE_X = [0.1, 0.2, 0.4, 0.8, 1.6]
CURVE_P = [0.0, 0.05, 0.3, 0.7, 0.95]


def curve_table(failed=()) -> pd.DataFrame:
    return sweep_table([{X: x} for x in CURVE_X], CURVE_P, failed)


def bands(ax) -> list[PolyCollection]:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


class TestCurve:
    def test_one_line_per_outcome_with_p(self):
        points = curve_table()
        ax = plot_sweep_curve(points.iloc[::-1], X).axes[0]
        lines = [line for line in ax.get_lines() if line.get_label().startswith("P(")]
        assert [line.get_label() for line in lines] == ["P(spiral)", "P(de-escalation)"]
        for line, outcome in zip(lines, ("spiral", "de_escalation"), strict=True):
            np.testing.assert_allclose(line.get_xdata(), CURVE_X)
            np.testing.assert_allclose(line.get_ydata(), points[f"p_{outcome}"])
        assert lines[0].get_linestyle() != lines[1].get_linestyle()
        assert lines[0].get_marker() != lines[1].get_marker()

    def test_bands_span_the_wilson_interval(self):
        points = curve_table()
        outcomes = ("spiral", "de_escalation", "unresolved")
        ax = plot_sweep_curve(points, X, outcomes=outcomes).axes[0]
        found = bands(ax)
        assert len(found) == len(outcomes)
        for band, outcome in zip(found, outcomes, strict=True):
            vertices = np.concatenate([path.vertices for path in band.get_paths()])
            low, high = points[f"ci95_low_{outcome}"], points[f"ci95_high_{outcome}"]
            assert vertices[:, 1].min() == pytest.approx(low.min())
            assert vertices[:, 1].max() == pytest.approx(high.max())
            for x, lo, hi in zip(CURVE_X, low, high, strict=True):
                at_x = vertices[np.isclose(vertices[:, 0], x), 1]
                assert np.isclose(at_x, lo).any() and np.isclose(at_x, hi).any()
        assert len({line.get_linestyle() for line in ax.get_lines()}) == len(outcomes)

    def test_axes_and_legend(self):
        ax = plot_sweep_curve(curve_table(), X).axes[0]
        assert ax.get_ylim() == (0.0, 1.0)
        assert ax.get_xlabel() == f"us ratio ({X})\n{axis_doc('proportional', 'ratio')}"
        assert ax.get_ylabel()
        assert ax.get_title()
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == ["P(spiral)", "P(de-escalation)"]

    def test_failed_points_are_skipped_and_noted(self):
        points = curve_table(failed={2})
        ax = plot_sweep_curve(points, X).axes[0]
        line = next(line for line in ax.get_lines() if line.get_label() == "P(spiral)")
        np.testing.assert_allclose(line.get_xdata(), [0.1, 0.2, 0.8, 1.6])
        np.testing.assert_allclose(line.get_ydata(), [0.0, 0.05, 0.7, 0.95])
        assert "1 failed point skipped" in all_text(ax)
        assert "failed point (skipped)" in [t.get_text() for t in ax.get_legend().get_texts()]

    def test_string_values_are_categories(self):
        kind = "states.beta.policy.kind"
        kinds = ["tit_for_tat", "generous", "grit"]
        points = sweep_table([{kind: k} for k in kinds], [0.7, 0.3, 0.1])
        ax = plot_sweep_curve(points, kind, outcomes=("spiral",)).axes[0]
        assert [t.get_text() for t in ax.get_xticklabels()] == kinds
        np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.7, 0.3, 0.1])

    def test_draws_on_the_given_axes(self):
        fig, ax = plt.subplots()
        assert plot_sweep_curve(curve_table(), X, ax=ax) is fig
        assert len(bands(ax)) == 2


NAMES = ["states.us.policy.ratio", "states.russia.policy.ratio", "outcomes.quiet_weeks"]


def sensitivity(outcomes=("spiral", "de_escalation")) -> dict:
    rng = np.random.default_rng(5)
    out = {}
    for outcome in outcomes:
        s1 = rng.uniform(0.0, 0.5, len(NAMES))
        out[outcome] = {
            "names": NAMES,
            "S1": list(s1),
            "S1_conf": list(rng.uniform(0.01, 0.05, len(NAMES))),
            "ST": list(s1 + 0.1),
            "ST_conf": list(rng.uniform(0.01, 0.05, len(NAMES))),
        }
    return out


class TestSensitivity:
    def test_bars_error_bars_and_labels(self):
        indices = sensitivity()
        fig = plot_sensitivity(indices)
        assert len(fig.axes) == 2
        for ax, outcome in zip(fig.axes, indices, strict=True):
            containers = [c for c in ax.containers if isinstance(c, BarContainer)]
            assert sum(len(c.patches) for c in containers) == 2 * len(NAMES)
            s1, st = containers
            for container, key in ((s1, "S1"), (st, "ST")):
                heights = [bar.get_height() for bar in container.patches]
                np.testing.assert_allclose(heights, indices[outcome][key])
                assert container.errorbar is not None
                segments = container.errorbar.lines[2][0].get_segments()
                half_widths = [abs(seg[1, 1] - seg[0, 1]) / 2 for seg in segments]
                np.testing.assert_allclose(half_widths, indices[outcome][f"{key}_conf"])
            assert s1.patches[0].get_hatch() != st.patches[0].get_hatch()
            assert (
                ax.get_title()
                == {"spiral": "P(spiral)", "de_escalation": "P(de-escalation)"}[outcome]
            )
            assert ax.get_xlabel()
            ticks = [t.get_text() for t in ax.get_xticklabels()]
            assert ticks == ["us ratio", "russia ratio", "outcomes quiet weeks"]
        assert fig.axes[0].get_ylabel()
        assert fig.get_suptitle()
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert legend == ["S1 (first order)", "ST (total)"]

    def test_one_outcome_on_a_given_axes(self):
        fig, ax = plt.subplots()
        assert plot_sensitivity(sensitivity(("spiral",)), ax=ax) is fig
        assert len([c for c in ax.containers if isinstance(c, BarContainer)]) == 2
        assert ax.get_title()

    def test_refuses_too_few_axes(self):
        _, ax = plt.subplots()
        with pytest.raises(ValueError, match="one Axes per outcome"):
            plot_sensitivity(sensitivity(), ax=ax)

    def test_refuses_ragged_lists(self):
        indices = sensitivity(("spiral",))
        indices["spiral"]["ST"] = indices["spiral"]["ST"][:-1]
        with pytest.raises(ValueError, match="different lengths"):
            plot_sensitivity(indices)


class TestSave:
    def test_png(self, tmp_path):
        fig = plot_sweep_curve(curve_table(), X)
        written = save_figure(fig, tmp_path / "curve.png")
        assert written == [tmp_path / "curve.png"]
        assert (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png"]

    def test_svg_also_writes_png(self, tmp_path):
        points, _ = grid_table(crossing)
        save_figure(plot_sweep_heatmap(points, X, Y), str(tmp_path / "map.svg"))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png", "map.svg"]
        assert (tmp_path / "map.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert b"<svg" in (tmp_path / "map.svg").read_bytes()[:2000]

    def test_replaces_an_existing_file(self, tmp_path):
        target = tmp_path / "s.png"
        target.write_bytes(b"old")
        save_figure(plot_sensitivity(sensitivity()), target)
        assert target.read_bytes().startswith(b"\x89PNG")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["s.png"]

    def test_failure_leaves_neither_temp_file_nor_target(self, tmp_path, monkeypatch):
        fig = plot_sweep_curve(curve_table(), X)

        def broken(*args, **kwargs):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(fig, "savefig", broken)
        with pytest.raises(RuntimeError):
            save_figure(fig, tmp_path / "curve.png")
        assert list(tmp_path.iterdir()) == []

    def test_refuses_other_formats(self, tmp_path):
        with pytest.raises(ValueError, match=r"\.png or \.svg"):
            save_figure(plot_sweep_curve(curve_table(), X), tmp_path / "curve.pdf")


# ---------------------------------------------------------------------------
# Single-scenario plots
# ---------------------------------------------------------------------------

FAN_START = dt.date(2021, 1, 6)
FAN_DATES = [FAN_START + dt.timedelta(weeks=i) for i in range(60)]
FORECAST = dt.date(2021, 6, 1)  # inside step 21 (ends 2021-06-02)
FIRST_FORECAST_STEP = 21
FAN_RUNS = 200


def fan_staff(seed: int = 1) -> dict[str, np.ndarray]:
    """Two missions: a replayed history identical in every run, then random declines."""
    rng = np.random.default_rng(seed)
    staff = {}
    k = FIRST_FORECAST_STEP
    for mission, start in (("US embassy, Moscow", 1200), ("Russian embassy, DC", 450)):
        history = start - np.cumsum(rng.integers(0, 3, k))
        steps = -rng.poisson(4, (len(FAN_DATES) - k, FAN_RUNS))
        future = history[-1] + np.cumsum(steps, axis=0)
        staff[mission] = np.vstack([np.repeat(history[:, None], FAN_RUNS, 1), future])
    return staff


def by_gid(artists, gid: str):
    found = [a for a in artists if a.get_gid() == gid]
    assert len(found) == 1, [a.get_gid() for a in artists]
    return found[0]


def band_vertices(band: PolyCollection) -> np.ndarray:
    return np.concatenate([path.vertices for path in band.get_paths()])


def assert_band_spans(band: PolyCollection, xs, low, high) -> None:
    """The band's outline passes through (x, low) and (x, high) at every x."""
    vertices = band_vertices(band)
    for x, lo, hi in zip(mdates.date2num(xs), low, high, strict=True):
        at_x = vertices[np.isclose(vertices[:, 0], x), 1]
        assert np.isclose(at_x, lo).any() and np.isclose(at_x, hi).any(), (x, lo, hi, at_x)


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in the_legend(ax).get_texts()]


class TestFanChart:
    def test_median_lines_after_the_forecast_start(self):
        staff = fan_staff()
        ax = plot_fan_chart(FAN_DATES, staff, FORECAST).axes[0]
        k = FIRST_FORECAST_STEP
        for mission, array in staff.items():
            line = by_gid(ax.get_lines(), f"median:{mission}")
            # the fan starts from the last replayed step, so it joins the history line
            np.testing.assert_array_equal(
                line.get_xdata(), np.array(FAN_DATES[k - 1 :], dtype="datetime64[D]")
            )
            np.testing.assert_allclose(line.get_ydata()[1:], np.median(array[k:], axis=1))
            assert line.get_ydata()[0] == array[k - 1, 0]

    def test_bands_span_the_quantiles(self):
        staff = fan_staff()
        ax = plot_fan_chart(FAN_DATES, staff, FORECAST).axes[0]
        k = FIRST_FORECAST_STEP
        polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(polys) == 2 * len(staff)
        for mission, array in staff.items():
            for gid, (low, high) in (("band50", (0.25, 0.75)), ("band90", (0.05, 0.95))):
                band = by_gid(polys, f"{gid}:{mission}")
                assert_band_spans(
                    band,
                    FAN_DATES[k:],
                    np.quantile(array[k:], low, axis=1),
                    np.quantile(array[k:], high, axis=1),
                )
                assert band_vertices(band)[:, 0].min() == pytest.approx(
                    mdates.date2num(FAN_DATES[k - 1])
                )
            faces = [
                by_gid(polys, f"{g}:{mission}").get_facecolor()[0] for g in ("band50", "band90")
            ]
            assert faces[0][3] > faces[1][3]  # the inner band is darker
            assert by_gid(polys, f"band50:{mission}").get_hatch()  # and hatched

    def test_history_line_before_the_forecast_start(self):
        staff = fan_staff()
        ax = plot_fan_chart(FAN_DATES, staff, FORECAST).axes[0]
        k = FIRST_FORECAST_STEP
        for mission, array in staff.items():
            line = by_gid(ax.get_lines(), f"history:{mission}")
            assert len(line.get_xdata()) == k
            assert line.get_xdata()[-1] < np.datetime64(FORECAST)
            np.testing.assert_array_equal(line.get_ydata(), array[:k, 0])
            assert line.get_linestyle() == "-"
            assert by_gid(ax.get_lines(), f"median:{mission}").get_linestyle() != "-"
        assert "history (replayed)" in legend_texts(ax)
        assert set(staff) <= set(legend_texts(ax))

    def test_forecast_start_line_and_label(self):
        ax = plot_fan_chart(FAN_DATES, fan_staff(), FORECAST).axes[0]
        line = by_gid(ax.get_lines(), "forecast_start")
        assert mdates.date2num(line.get_xdata()[0]) == mdates.date2num(FORECAST)
        assert line.get_linestyle() == "--"
        assert "forecast start" in texts(ax)
        assert "forecast from 2021-06-01" in all_text(ax)

    def test_events_marked_and_labelled(self):
        events = [
            (dt.date(2021, 3, 2), "US sanctions"),
            (dt.date(2021, 4, 15), "US expels 10"),
            (dt.date(2021, 4, 16), "RU expels 10"),
            (dt.date(2021, 9, 1), "RU bans local hires"),
        ]
        ax = plot_fan_chart(FAN_DATES, fan_staff(), FORECAST, events=events).axes[0]
        markers = by_gid(ax.get_lines(), "events")
        np.testing.assert_array_equal(
            markers.get_xdata(), np.array([d for d, _ in events], dtype="datetime64[D]")
        )
        labels = {t.get_text().strip(): t for t in ax.texts if t.get_gid() == "event_label"}
        assert sorted(labels) == sorted(label for _, label in events)
        # two events a day apart: their labels go on different rows
        assert labels["US expels 10"].get_position()[1] != labels["RU expels 10"].get_position()[1]
        assert all(t.get_fontsize() >= 9 for t in labels.values())
        # the data stays below the event labels
        top = max(np.nanmax(a) for a in fan_staff().values())
        assert ax.get_ylim()[1] > top * 1.1

    def test_many_events_some_unlabelled(self):
        events = [(FAN_START + dt.timedelta(days=3 * i), f"event {i}") for i in range(30)]
        ax = plot_fan_chart(FAN_DATES, fan_staff(), FORECAST, events=events).axes[0]
        labels = [t for t in ax.texts if t.get_gid() == "event_label"]
        assert 1 <= len(labels) <= 12
        assert len(by_gid(ax.get_lines(), "events").get_xdata()) == 30
        assert f"{30 - len(labels)} more events marked (▼), not labelled" in all_text(ax)

    def test_labels_title_and_date_axis(self):
        fig = plot_fan_chart(FAN_DATES, fan_staff(), FORECAST, title="Staff: test")
        ax = fig.axes[0]
        assert ax.get_title() == "Staff: test"
        assert ax.get_ylabel() == "Staff (total per mission)"
        assert ax.get_xlabel()
        assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
        assert isinstance(ax.xaxis.get_major_locator(), mdates.AutoDateLocator)
        assert f"{FAN_RUNS} runs" in all_text(ax)
        fig.draw_without_rendering()
        ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert any(re.search(r"\d{4}", t) for t in ticks[:1]), ticks

    def test_datetime64_dates_and_given_axes(self):
        fig, ax = plt.subplots()
        days = np.array(FAN_DATES, dtype="datetime64[D]")
        assert plot_fan_chart(days, fan_staff(), np.datetime64(FORECAST), ax=ax) is fig
        assert by_gid(ax.get_lines(), "forecast_start")

    def test_forecast_from_the_first_step(self):
        staff = fan_staff()
        ax = plot_fan_chart(FAN_DATES, staff, FAN_DATES[0]).axes[0]
        assert not [line for line in ax.get_lines() if str(line.get_gid()).startswith("hist")]
        mission = next(iter(staff))
        line = by_gid(ax.get_lines(), f"median:{mission}")
        np.testing.assert_allclose(line.get_ydata(), np.median(staff[mission], axis=1))

    def test_runs_that_differ_before_the_forecast_are_noted(self):
        staff = fan_staff()
        mission = next(iter(staff))
        staff[mission][3, 0] += 5
        ax = plot_fan_chart(FAN_DATES, staff, FORECAST).axes[0]
        assert "runs differ before the forecast start" in all_text(ax)

    def test_refuses_a_wrong_shape(self):
        staff = {"a": np.ones((len(FAN_DATES) - 1, 5))}
        with pytest.raises(ValueError, match="expected shape"):
            plot_fan_chart(FAN_DATES, staff, FORECAST)


INCIDENCE_DATES = [dt.date(2021, 12, 1) + dt.timedelta(weeks=i) for i in range(40)]
INCIDENCE_RUNS = 1000


def incidence() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    t = np.arange(len(INCIDENCE_DATES))
    out = {}
    for outcome, total, scale in (("spiral", 0.45, 12), ("de_escalation", 0.3, 20)):
        counts = np.round(total * (1 - np.exp(-t / scale)) * INCIDENCE_RUNS)
        bands = [wilson(int(c), INCIDENCE_RUNS) for c in counts]
        out[outcome] = (
            counts / INCIDENCE_RUNS,
            np.array([b[0] for b in bands]),
            np.array([b[1] for b in bands]),
        )
    return out


class TestCumulativeIncidence:
    def test_lines_equal_p_and_bands_span_the_interval(self):
        data = incidence()
        ax = plot_cumulative_incidence(INCIDENCE_DATES, data, INCIDENCE_RUNS).axes[0]
        lines = {line.get_label(): line for line in ax.get_lines()}
        for outcome, (p, low, high) in data.items():
            line = lines[outcome.replace("_", "-")]
            np.testing.assert_allclose(line.get_ydata(), p)
            np.testing.assert_array_equal(
                line.get_xdata(), np.array(INCIDENCE_DATES, dtype="datetime64[D]")
            )
            band = by_gid(ax.collections, f"ci95_{outcome}")
            assert_band_spans(band, INCIDENCE_DATES, low, high)
        assert lines["spiral"].get_linestyle() != lines["de-escalation"].get_linestyle()

    def test_axes_legend_and_subtitle(self):
        ax = plot_cumulative_incidence(
            INCIDENCE_DATES, incidence(), INCIDENCE_RUNS, title="Outcomes over time"
        ).axes[0]
        assert ax.get_ylim() == (0.0, 1.0)
        assert ax.get_ylabel() == "Share of runs (cumulative)"
        assert ax.get_xlabel()
        assert ax.get_title() == "Outcomes over time"
        assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
        assert "1,000 runs; each run counts once, for its outcome at the horizon" in all_text(ax)
        legend = legend_texts(ax)
        assert len(legend) == 2
        assert legend[0].startswith("spiral") and legend[1].startswith("de-escalation")

    def test_refuses_arrays_of_the_wrong_length(self):
        data = incidence()
        p, low, high = data["spiral"]
        data["spiral"] = (p[:-1], low, high)
        with pytest.raises(ValueError, match="one per date"):
            plot_cumulative_incidence(INCIDENCE_DATES, data, INCIDENCE_RUNS)


def outcome_entry(p_spiral: float, p_de: float) -> dict:
    entry = {}
    for outcome, p in zip(OUTCOMES, (p_spiral, p_de, 1 - p_spiral - p_de), strict=True):
        low, high = wilson(round(p * RUNS), RUNS)
        entry[outcome] = {"p": p, "count": round(p * RUNS), "ci95": [low, high]}
    return entry


OUTCOME_TABLE = {
    "as recorded": outcome_entry(0.19, 0.55),
    "US reverses its order": outcome_entry(0.05, 0.9),
}


def bar_containers(ax) -> list[BarContainer]:
    return [c for c in ax.containers if isinstance(c, BarContainer)]


class TestOutcomeProbabilities:
    def test_bar_heights_and_error_bars(self):
        ax = plot_outcome_probabilities(OUTCOME_TABLE).axes[0]
        containers = bar_containers(ax)
        # in display order: calm first, then worse
        assert [c.get_label() for c in containers] == ["de-escalation", "spiral", "unresolved"]
        for container, outcome in zip(
            containers, ["de_escalation", "spiral", "unresolved"], strict=True
        ):
            entries = [OUTCOME_TABLE[label][outcome] for label in OUTCOME_TABLE]
            heights = [bar.get_height() for bar in container.patches]
            np.testing.assert_allclose(heights, [e["p"] for e in entries])
            segments = container.errorbar.lines[2][0].get_segments()
            for segment, entry in zip(segments, entries, strict=True):
                assert sorted(segment[:, 1]) == pytest.approx(entry["ci95"])
        hatches = {c.patches[0].get_hatch() for c in containers}
        assert len(hatches) == 3

    def test_grouped_per_label(self):
        ax = plot_outcome_probabilities(OUTCOME_TABLE).axes[0]
        containers = bar_containers(ax)
        ticks = ax.get_xticks()
        tick_labels = [t.get_text().replace("\n", " ") for t in ax.get_xticklabels()]
        assert tick_labels == list(OUTCOME_TABLE)  # long labels wrap onto two lines
        for j, tick in enumerate(ticks):
            centres = [c.patches[j].get_x() + c.patches[j].get_width() / 2 for c in containers]
            assert centres == sorted(centres)
            assert abs(np.mean(centres) - tick) < 1e-9
            assert max(centres) - min(centres) < 1  # a group stays within its slot

    def test_value_labels_axes_and_legend(self):
        ax = plot_outcome_probabilities(OUTCOME_TABLE, title="Compared").axes[0]
        values = texts(ax)
        assert "19%" in values and "55%" in values and "90%" in values and "5%" in values
        assert ax.get_ylim() == (0.0, 1.0)
        assert ax.get_ylabel() == "Probability"
        assert ax.get_title() == "Compared"
        assert legend_texts(ax) == ["de-escalation", "spiral", "unresolved"]

    def test_one_label_on_a_given_axes(self):
        fig, ax = plt.subplots()
        table = {"as recorded": OUTCOME_TABLE["as recorded"]}
        assert plot_outcome_probabilities(table, ax=ax) is fig
        assert [len(c.patches) for c in bar_containers(ax)] == [1, 1, 1]
        assert ax.get_title()


def time_weeks() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "spiral": rng.gamma(4.0, 9.0, 1928),
        "de_escalation": rng.gamma(2.0, 10.0, 311),
        "unresolved": np.array([]),
    }


class TestTimeToOutcome:
    def test_outlines_hold_every_run_as_a_share_per_week(self):
        weeks = time_weeks()
        ax = plot_time_to_outcome(weeks).axes[0]
        for outcome in ("spiral", "de_escalation"):
            values, edges, _ = by_gid(ax.patches, f"hist_{outcome}").get_data()
            runs = values * np.diff(edges) * len(weeks[outcome])  # back to runs per bin
            np.testing.assert_allclose(runs, np.round(runs), atol=1e-9)
            assert runs.sum() == pytest.approx(len(weeks[outcome]))
            assert edges[0] <= weeks[outcome].min() and edges[-1] >= weeks[outcome].max()
        styles = {
            by_gid(ax.patches, f"hist_{o}").get_linestyle() for o in ("spiral", "de_escalation")
        }
        assert len(styles) == 2

    def test_medians_in_lines_and_legend(self):
        weeks = time_weeks()
        ax = plot_time_to_outcome(weeks, title="Time to outcome").axes[0]
        legend = legend_texts(ax)
        assert len(legend) == 2
        for text, outcome in zip(legend, ("spiral", "de_escalation"), strict=True):
            median = np.median(weeks[outcome])
            line = by_gid(ax.get_lines(), f"median_{outcome}")
            assert line.get_xdata()[0] == pytest.approx(median)
            name = outcome.replace("_", "-")
            n = len(weeks[outcome])
            assert text == f"{name}: {n:,} runs, median {median:.0f} weeks"
        assert "1,928" in legend[0]
        assert ax.get_xlabel() == "Weeks from the forecast start"
        assert ax.get_ylabel() == "Share of the outcome's runs, per week"
        assert ax.get_title() == "Time to outcome"

    def test_empty_outcomes_are_skipped_with_a_note(self):
        ax = plot_time_to_outcome(time_weeks()).axes[0]
        assert not [p for p in ax.patches if p.get_gid() == "hist_unresolved"]
        assert "skipped, no runs: unresolved" in all_text(ax)

    def test_given_bins(self):
        weeks = {"spiral": np.array([1.0, 2.5, 2.6, 9.0])}
        ax = plot_time_to_outcome(weeks, bins=[0, 2, 4, 6, 8, 10]).axes[0]
        values, edges, _ = by_gid(ax.patches, "hist_spiral").get_data()
        # 1, 2, 0, 0 and 1 of the 4 runs, in bins 2 weeks wide
        np.testing.assert_allclose(values, np.array([1, 2, 0, 0, 1]) / 4 / 2)
        np.testing.assert_array_equal(edges, [0, 2, 4, 6, 8, 10])
        assert "4 runs, median 2.5 weeks" in legend_texts(ax)[0]

    def test_a_bin_holds_the_runs_reached_by_its_right_edge(self):
        """A value is the end of the step a run was reached in: week 2 is in (0, 2]."""
        weeks = {"spiral": np.array([2.0, 2.0, 3.0])}
        ax = plot_time_to_outcome(weeks, bins=[0, 2, 4]).axes[0]
        values, _, _ = by_gid(ax.patches, "hist_spiral").get_data()
        np.testing.assert_allclose(values * 2 * 3, [2, 1])

    def test_on_dates_to_the_horizon(self):
        weeks = {"spiral": np.array([3.0, 5.0, 30.0]), "de_escalation": np.array([26.0])}
        start = dt.date(2021, 12, 1)
        ax = plot_time_to_outcome(weeks, start=start, horizon_weeks=52, runs=40).axes[0]
        x0, x1 = ax.get_xlim()
        assert x0 == pytest.approx(mdates.date2num(start))
        assert x1 == pytest.approx(mdates.date2num(start + dt.timedelta(weeks=52)))
        assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
        line = by_gid(ax.get_lines(), "median_spiral")
        assert line.get_xdata()[0] == pytest.approx(mdates.date2num(dt.date(2022, 1, 5)))
        legend = legend_texts(ax)
        assert legend[0] == "spiral: 3 runs (8% of all), median 5.0 weeks (2022-01-05)"
        assert legend[1] == "de-escalation: 1 run (2% of all), median 26 weeks (2022-06-01)"
        # a rare outcome is on the same footing: each outline encloses 100% of its runs
        for outcome in weeks:
            values, edges, _ = by_gid(ax.patches, f"hist_{outcome}").get_data()
            assert (values * np.diff(edges) / 7).sum() == pytest.approx(1.0)
        assert "bins of 2 weeks" in all_text(ax)

    def test_nothing_reached(self):
        fig, ax = plt.subplots()
        assert plot_time_to_outcome({"spiral": []}, ax=ax) is fig
        assert "no run reached any of these outcomes" in texts(ax)
        assert ax.get_title()


def test_forecast_start_inside_the_first_step_is_shown():
    start = FAN_DATES[0] - dt.timedelta(days=3)  # step 0 ends on FAN_DATES[0]
    ax = plot_fan_chart(FAN_DATES, fan_staff(), start).axes[0]
    assert not [line for line in ax.get_lines() if str(line.get_gid()).startswith("hist")]
    x = mdates.date2num(by_gid(ax.get_lines(), "forecast_start").get_xdata()[0])
    assert ax.get_xlim()[0] < x < ax.get_xlim()[1]


@pytest.mark.parametrize(
    "draw",
    [
        lambda: plot_fan_chart(
            FAN_DATES, fan_staff(), FORECAST, events=[(dt.date(2021, 3, 2), "US sanctions")]
        ),
        lambda: plot_cumulative_incidence(INCIDENCE_DATES, incidence(), INCIDENCE_RUNS),
        lambda: plot_outcome_probabilities(OUTCOME_TABLE),
        lambda: plot_time_to_outcome(time_weeks()),
    ],
    ids=["fan", "incidence", "outcomes", "time"],
)
def test_single_scenario_figures_are_readable(draw, tmp_path):
    fig = draw()
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    legend = the_legend(ax)
    fig.draw_without_rendering()
    text_artists = [
        ax.title,
        ax.xaxis.label,
        ax.yaxis.label,
        *ax.texts,
        *ax.get_xticklabels(),
        *ax.get_yticklabels(),
        *legend.get_texts(),
    ]
    assert min(t.get_fontsize() for t in text_artists) >= 9
    assert save_figure(fig, tmp_path / "figure.png") == [tmp_path / "figure.png"]


def test_forecast_start_label_stays_clear_of_the_lines():
    staff = fan_staff()
    ax = plot_fan_chart(FAN_DATES, staff, FORECAST).axes[0]
    label = by_gid(ax.texts, "forecast_start_label")
    y = label.xy[1]
    k = FIRST_FORECAST_STEP
    for array in staff.values():
        window = array[k - 4 : k + 2]
        assert not window.min() <= y <= window.max()


# ---------------------------------------------------------------------------
# Briefing-grade figures (issue 15): display names, labelled events, bands told apart,
# time to outcome on dates, the quiet-period jump, the sweeps' scenario values
# ---------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"


@pytest.fixture(scope="module")
def main_scenario():
    return sim.load_scenario(MAIN)


def test_display_names_of_a_scenario(main_scenario):
    sc = main_scenario
    assert scenario_title(sc) == "US–Russia expulsions"
    assert (state_label(sc, "us"), state_label(sc, "russia")) == ("US", "Russia")
    assert mission_label(sc, "us_in_russia") == "US mission in Russia"
    assert mission_label(sc, "russia_in_us") == "Russia's mission in the US"
    labels = [event_label(sc, ev) for ev in sc.events if not ev.own]
    assert "Russia bans all local staff (US mission)" in labels  # not "... hires 0"
    assert "Russia expels 12 diplomats (US mission)" in labels
    assert "US expels 27 diplomats (Russia's mission)" in labels
    assert param_label("states.us.policy.reciprocate", sc) == "US reciprocate"


def test_a_scenario_title_is_the_descriptions_first_clause_or_the_id():
    def title(description):
        return scenario_title(SimpleNamespace(name="the_id", description=description))

    assert title("Skripal 2018: the UK's 23 ...") == "Skripal 2018"
    assert title("") == "the_id"
    assert title("x" * 90) == "the_id"  # nothing readable short enough
    long = "Scripted replay of the UK–Russia record of measures, July 2007 to the end of 2023"
    assert title(long + ", from the events CSV.") == long.rsplit(", ", 1)[0]


def test_a_parity_caps_level_comes_from_the_event_record():
    result = sim.run(ROOT / "scenarios" / "us_russia_2016_2021_replay.toml", runs=2)
    cap = result.scenario.events[1]
    assert cap.options.get("parity")
    assert event_label(result.scenario, cap) == "Russia cap (US mission)"  # no level yet
    labels = [label for _, label, _ in scenario_events(result.scenario, result.events)]
    assert "Russia caps the mission at 455 (US mission)" in labels


def legend_handles(ax) -> list:
    return list(the_legend(ax).legend_handles)


class TestBriefingFanChart:
    def test_the_events_opening_the_forecast_and_the_largest_are_labelled(self):
        crowded = [(FAN_START + dt.timedelta(days=4 * i), f"small {i}", 1.0) for i in range(30)]
        crowded[3] = (crowded[3][0], "the largest", 500.0)
        opening = [(FORECAST, f"opens {i}", 0.0) for i in range(3)]
        ax = plot_fan_chart(FAN_DATES, fan_staff(), FORECAST, events=crowded + opening).axes[0]
        labelled = {t.get_text().strip() for t in ax.texts if t.get_gid() == "event_label"}
        assert {"opens 0", "opens 1", "opens 2", "the largest"} <= labelled
        assert len(labelled) < 33

    def test_no_two_event_labels_overlap(self):
        events = [(FAN_START + dt.timedelta(days=2 * i), f"event number {i}") for i in range(40)]
        fig = plot_fan_chart(FAN_DATES, fan_staff(), FORECAST, events=events)
        fig.draw_without_rendering()
        boxes = [t.get_window_extent() for t in fig.axes[0].texts if t.get_gid() == "event_label"]
        assert len(boxes) >= 4
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b) or min(a.x1, b.x1) - max(a.x0, b.x0) < 1

    def test_every_legend_entry_carries_its_missions_colour(self):
        staff = fan_staff()
        ax = plot_fan_chart(FAN_DATES, staff, FORECAST).axes[0]
        texts = legend_texts(ax)
        assert texts[0] == "US embassy, Moscow" and texts[5] == "Russian embassy, DC"
        colours = set()
        for handle, text in zip(legend_handles(ax), texts, strict=True):
            if text in staff:
                continue  # a column's heading
            colour = handle.get_color() if hasattr(handle, "get_color") else None
            if colour is None or isinstance(colour, np.ndarray):
                colour = handle.get_edgecolor()
            rgb = tuple(np.round(mcolors.to_rgba(colour)[:3], 2))
            assert max(rgb) - min(rgb) > 0.1, f"{text!r} is drawn in grey"
            colours.add(rgb)
        assert len(colours) == 2  # one per mission

    def test_overlapping_bands_and_medians_stay_apart(self):
        """Two missions with the same staff: their medians alternate (dashes, markers)
        and their inner bands are hatched in different directions."""
        array = fan_staff()["US embassy, Moscow"]
        staff = {"first": array, "second": array.copy()}
        ax = plot_fan_chart(FAN_DATES, staff, FORECAST).axes[0]
        first, second = (by_gid(ax.get_lines(), f"median:{m}") for m in staff)
        np.testing.assert_array_equal(first.get_ydata(), second.get_ydata())
        assert first.get_linestyle() != "-" and second.get_linestyle() != "-"
        assert first._unscaled_dash_pattern != second._unscaled_dash_pattern
        assert first.get_markevery() != second.get_markevery()
        assert first.get_path_effects() and second.get_path_effects()  # white outline
        polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
        hatches = {by_gid(polys, f"band50:{m}").get_hatch() for m in staff}
        assert len(hatches) == 2

    def test_the_forecast_start_label_clears_the_y_axis(self):
        start = FAN_DATES[0] + dt.timedelta(days=2)  # 5.5 days from the left edge
        fig = plot_fan_chart(FAN_DATES, fan_staff(), start)
        ax = fig.axes[0]
        label = by_gid(ax.texts, "forecast_start_label")
        assert label.get_horizontalalignment() == "left"  # on the line's right
        fig.draw_without_rendering()
        box, frame = label.get_window_extent(), ax.get_window_extent()
        assert frame.x0 < box.x0 and box.x1 < frame.x1
        for tick in ax.get_yticklabels():
            assert not box.overlaps(tick.get_window_extent())

    def test_many_missions_get_distinct_styles_and_one_entry_each(self):
        base = fan_staff()["US embassy, Moscow"]
        staff = {f"mission {i}": base - 3 * i for i in range(8)}
        ax = plot_fan_chart(FAN_DATES, staff, FORECAST, notes=["8 missions shown"]).axes[0]
        assert legend_texts(ax) == list(staff)
        looks = {
            (line.get_color(), line.get_marker())
            for line in ax.get_lines()
            if str(line.get_gid()).startswith("median:")
        }
        assert len(looks) == 8
        assert "hatched: middle 50% of runs" in all_text(ax)
        assert "8 missions shown" in all_text(ax)

    def test_the_api_draws_at_most_four_missions_by_default(self):
        sc = SimpleNamespace(events=[])
        ids = [f"m{i}" for i in range(6)]
        traj = np.ones((5, 6, 3)) * 100.0
        traj[-1, :, :] -= np.arange(6)[:, None] * 10  # m5 lost the most
        chosen, note = fan_chart_missions(sc, ids, traj)
        assert chosen == ["m2", "m3", "m4", "m5"]
        assert note == "4 of 6 missions shown: those that lost the most staff"
        assert fan_chart_missions(sc, ids[:3], traj[:, :3]) == (ids[:3], "")


class TestQuietPeriod:
    def jumping(self) -> dict:
        data = incidence()
        p = np.zeros(len(INCIDENCE_DATES))
        p[20:] = 0.10  # 100 runs declared calm at once
        p[21:] += np.linspace(0.0, 0.05, len(p) - 21)
        data["de_escalation"] = (p, np.clip(p - 0.02, 0, 1), p + 0.02)
        return data

    def test_the_rule_is_noted_and_its_jump_marked(self):
        ax = plot_cumulative_incidence(
            INCIDENCE_DATES, self.jumping(), INCIDENCE_RUNS, quiet_period="26 weeks"
        ).axes[0]
        assert "de-escalation is counted only after 26 weeks with no hostile" in all_text(ax)
        mark = by_gid(ax.texts, "quiet_jump")
        assert mark.get_text().startswith("10% of runs at once")
        assert "26 weeks of quiet" in mark.get_text()
        assert mdates.date2num(mark.xy[0]) == pytest.approx(mdates.date2num(INCIDENCE_DATES[20]))
        assert mark.xy[1] == pytest.approx(0.10)

    def test_no_mark_without_a_jump_nor_a_note_without_the_rule(self):
        ax = plot_cumulative_incidence(
            INCIDENCE_DATES, incidence(), INCIDENCE_RUNS, quiet_period="26 weeks"
        ).axes[0]
        assert not [t for t in ax.texts if t.get_gid() == "quiet_jump"]
        assert "counted only after 26 weeks" in all_text(ax)
        ax = plot_cumulative_incidence(INCIDENCE_DATES, self.jumping(), INCIDENCE_RUNS).axes[0]
        assert not [t for t in ax.texts if t.get_gid() == "quiet_jump"]
        assert "quiet" not in all_text(ax)


RECIPROCATE = "states.us.policy.reciprocate"
RU_RECIPROCATE = "states.russia.policy.reciprocate"
RECIPROCATES = [0.0, 0.25, 0.5, 0.75, 1.0]


class TestScenarioValues:
    def test_the_curve_marks_the_scenarios_value_and_says_what_it_is(self, main_scenario):
        points = sweep_table([{RECIPROCATE: x} for x in RECIPROCATES], CURVE_P)
        ax = plot_sweep_curve(points, RECIPROCATE, scenario=main_scenario).axes[0]
        line = by_gid(ax.get_lines(), "scenario_value")
        assert line.get_xdata()[0] == pytest.approx(0.05)  # the scenario file's value
        assert "scenario value: 0.05" in legend_texts(ax)
        doc = axis_doc("proportional", "reciprocate")
        assert ax.get_xlabel() == f"US reciprocate ({RECIPROCATE})\n{doc}"
        assert "US–Russia expulsions" in all_text(ax)

    def test_a_value_off_the_axis_is_noted_not_drawn(self, main_scenario):
        points = sweep_table([{RECIPROCATE: x} for x in (0.5, 0.75, 1.0)], [0.3, 0.2, 0.1])
        ax = plot_sweep_curve(points, RECIPROCATE, scenario=main_scenario).axes[0]
        assert not [line for line in ax.get_lines() if line.get_gid() == "scenario_value"]
        assert "the scenario's US reciprocate, 0.05, is off the axis" in all_text(ax)

    def test_the_heatmap_stars_the_scenarios_values(self, main_scenario):
        params = [
            {RECIPROCATE: x, RU_RECIPROCATE: y} for y in (0.4, 0.7, 1.0) for x in RECIPROCATES
        ]
        points = sweep_table(params, [0.3] * len(params))
        fig = plot_sweep_heatmap(points, RECIPROCATE, RU_RECIPROCATE, scenario=main_scenario)
        star = by_gid(fig.axes[0].get_lines(), "scenario_value")
        assert (star.get_xdata()[0], star.get_ydata()[0]) == pytest.approx((0.05, 0.7))
        assert legend_texts(fig.axes[0]) == [
            "scenario's values: US reciprocate 0.05, Russia reciprocate 0.7"
        ]

    def test_scenario_values_defaults_and_draws(self, main_scenario):
        sc = main_scenario
        assert scenario_value("states.us.policy.ratio", sc) == 1.0
        assert scenario_value("states.us.policy.comply", sc) == 0.05  # set in the file
        assert "settle_rate" not in sc.states["us"].policies["russia"]
        assert scenario_value("states.us.policy.settle_rate", sc) == 0.0  # the default
        assert scenario_value("outcomes.quiet_steps", sc) == sc.outcomes.quiet_steps
        assert scenario_value("outcomes.closure_threshold", sc) == 65
        assert scenario_value("states.nobody.policy.ratio", sc) is None
        uncertain = sim.load_scenario(ROOT / "scenarios" / "us_russia_2021_uncertain.toml")
        assert scenario_value("states.us.policy.respond_prob", uncertain) is None  # drawn
        assert param_description("outcomes.quiet_steps", sc) == ""
        assert param_description("states.us.policy.noise") == axis_doc("proportional", "noise")


def test_new_figures_are_readable_inline_whatever_the_notebook_sets():
    with matplotlib.rc_context({"figure.dpi": 80}):
        for fig in (
            plot_cumulative_incidence(INCIDENCE_DATES, incidence(), INCIDENCE_RUNS),
            plot_sweep_curve(curve_table(), X),
            plot_sensitivity(sensitivity()),
        ):
            assert fig.dpi == FIGURE_DPI >= 100
