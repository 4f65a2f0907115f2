"""Plots: the matplotlib objects drawn, not pixels; and saving.

Sweep and sensitivity plots, then the single-scenario plots (fan chart, cumulative
incidence, outcome bars, time to outcome) from synthetic data.
"""

from __future__ import annotations

import datetime as dt
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.container import BarContainer
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

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
    return " ".join([ax.get_title(), *(t.get_text() for t in ax.texts)])


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
        assert ax.get_xlabel() == "us ratio"
        assert ax.get_ylabel() == "russia respond prob"
        assert "P(de-escalation)" in ax.get_title()

    def test_half_contour_when_the_surface_crosses_one_half(self):
        points, _ = grid_table(crossing)
        ax = plot_sweep_heatmap(points, X, Y).axes[0]
        contour = only(ax.collections, ContourSet)
        assert list(contour.levels) == [0.5]
        assert any(len(path.vertices) >= 2 for path in contour.get_paths())
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["P = 0.5"]

    @pytest.mark.parametrize("level", [0.2, 0.8])
    def test_no_contour_when_it_does_not(self, level):
        points, _ = grid_table(lambda x, y: level + 0.01 * x)
        ax = plot_sweep_heatmap(points, X, Y).axes[0]
        assert not [c for c in ax.collections if isinstance(c, ContourSet)]
        assert ax.get_legend() is None
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
        assert ax.get_xlabel() == "us ratio"
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
    return [t.get_text() for t in ax.get_legend().get_texts()]


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
            alphas = [by_gid(polys, f"{g}:{mission}").get_alpha() for g in ("band50", "band90")]
            assert alphas[0] > alphas[1]

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
        labels = [t for t in ax.texts if t.get_gid() == "event_label"]
        assert [t.get_text().strip() for t in labels] == [label for _, label in events]
        # two events a day apart: their labels go on different rows
        assert labels[1].get_position()[1] != labels[2].get_position()[1]
        assert all(t.get_fontsize() >= 9 for t in labels)
        # the data stays below the event labels
        top = max(np.nanmax(a) for a in fan_staff().values())
        assert ax.get_ylim()[1] > top * 1.1

    def test_many_events_some_unlabelled(self):
        events = [(FAN_START + dt.timedelta(days=3 * i), f"event {i}") for i in range(30)]
        ax = plot_fan_chart(FAN_DATES, fan_staff(), FORECAST, events=events).axes[0]
        labels = [t for t in ax.texts if t.get_gid() == "event_label"]
        assert 1 <= len(labels) <= 12
        assert len(by_gid(ax.get_lines(), "events").get_xdata()) == 30
        assert f"{30 - len(labels)} more events marked, not labelled" in all_text(ax)

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
    def test_histograms_count_every_run(self):
        weeks = time_weeks()
        ax = plot_time_to_outcome(weeks).axes[0]
        for outcome in ("spiral", "de_escalation"):
            values, edges, _ = by_gid(ax.patches, f"hist_{outcome}").get_data()
            assert values.sum() == len(weeks[outcome])
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
            assert text == f"{name}: median {median:.0f} weeks, n = {n:,}"
        assert "1,928" in legend[0]
        assert ax.get_xlabel() == "Weeks from the forecast start"
        assert ax.get_ylabel() == "Runs"
        assert ax.get_title() == "Time to outcome"

    def test_empty_outcomes_are_skipped_with_a_note(self):
        ax = plot_time_to_outcome(time_weeks()).axes[0]
        assert not [p for p in ax.patches if p.get_gid() == "hist_unresolved"]
        assert "skipped, no runs: unresolved" in all_text(ax)

    def test_given_bins(self):
        weeks = {"spiral": np.array([1.0, 2.5, 2.6, 9.0])}
        ax = plot_time_to_outcome(weeks, bins=[0, 2, 4, 6, 8, 10]).axes[0]
        values, edges, _ = by_gid(ax.patches, "hist_spiral").get_data()
        np.testing.assert_array_equal(values, [1, 2, 0, 0, 1])
        np.testing.assert_array_equal(edges, [0, 2, 4, 6, 8, 10])
        assert "median 2.5 weeks, n = 4" in legend_texts(ax)[0]

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
    assert ax.get_legend() is not None
    fig.draw_without_rendering()
    text_artists = [
        ax.title,
        ax.xaxis.label,
        ax.yaxis.label,
        *ax.texts,
        *ax.get_xticklabels(),
        *ax.get_yticklabels(),
        *ax.get_legend().get_texts(),
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
