"""An outcome plugin: "halved" (tests/plugins/example_outcome.py, shown in docs/plugins.md).

A scenario that chooses it (``classes = ["spiral", "halved", "relapse",
"de_escalation"]``) tracks it beside the built-ins; its meaning is checked by an
invariant on the trajectories, and every consumer (summary, runs table, cumulative
incidence, plots, story, save and load) shows it.
"""

from __future__ import annotations

import copy
import importlib
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import sim
from sim.outcome_classes import check_outcome_classes, outcome_class, registered_outcomes
from sim.scenario import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "tests" / "plugins"
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"
CLASSES = ["spiral", "halved", "relapse", "de_escalation"]
RUNS = 300


@pytest.fixture(scope="module")
def halved():
    """The plugin, imported as ``--plugin example_outcome`` would (registers on import)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(PLUGINS))
        module = importlib.import_module("example_outcome")
    return module.HALVED


def with_halved(threshold: int = 30):
    """The 2021 scenario with a lower closure threshold (so that a halved mission is not
    always closed too) and the plugin's class chosen. Until the scenario reader takes
    ``[outcomes] classes``, the validated scenario's outcome spec is given them here."""
    raw = copy.deepcopy(load_scenario(MAIN).raw)
    raw.setdefault("outcomes", {})["closure_threshold"] = threshold
    sc = scenario_from_dict(raw, "us_russia_2021 (halved)")
    names, problems = check_outcome_classes(CLASSES, "outcomes.classes")
    assert problems == []
    sc.outcomes.classes = names
    return sc


@pytest.fixture(scope="module")
def result(halved):
    return sim.run(with_halved(), runs=RUNS, seed=3)


def forecast_start_totals(result) -> np.ndarray:
    """(missions, runs) totals when the forecast starts (after the last history step)."""
    fs = result.scenario.forecast_step
    assert fs > 0
    return result.ensemble.trajectories[fs - 1]


def test_the_plugin_is_registered_between_spiral_and_relapse(halved):
    assert outcome_class("halved") is halved
    assert outcome_class("relapse").precedence < halved.precedence
    assert halved.precedence < outcome_class("spiral").precedence
    assert halved.timed and halved in registered_outcomes()


def test_results_carry_the_names_used(result):
    names = result.outcome_names
    assert names == ("unresolved", "spiral", "de_escalation", "relapse", "halved")
    # The built-ins keep their codes; the plugin's class comes after them.
    assert [names.index(n) for n in ("unresolved", "spiral", "de_escalation", "relapse")] == [
        0,
        1,
        2,
        3,
    ]
    assert set(np.unique(result.ensemble.outcome)) == set(range(len(names)))


def test_halved_means_a_watched_mission_below_half_its_forecast_start_size(result):
    ens, sc = result.ensemble, result.scenario
    watched = [list(sc.missions).index(m) for m in sc.outcomes.missions]
    traj = ens.trajectories[:, watched, :]  # (steps, watched, runs)
    start = forecast_start_totals(result)[watched]  # (watched, runs)
    below = (2 * traj < start).any(axis=1)  # (steps, runs)
    below[: sc.forecast_step] = False
    halved = ens.outcome == result.outcome_names.index("halved")
    assert halved.sum() >= 20  # enough runs for the invariant to mean something
    runs = np.flatnonzero(halved)
    # Every halved run has a watched mission below half at its outcome step, first then.
    assert below[ens.outcome_step[runs], runs].all()
    assert (np.argmax(below[:, runs], axis=0) == ens.outcome_step[runs]).all()
    # No run classed below halved in precedence ever had one below half.
    lower = [
        result.outcome_names.index(c.name)
        for c in registered_outcomes()
        if c.name in result.outcome_names and c.precedence < outcome_class("halved").precedence
    ]
    assert not below[:, np.isin(ens.outcome, lower)].any()
    # Spiral is above it: closed runs stay spirals, whatever else they reached.
    threshold = sc.outcomes.closure_threshold
    closed = (traj[sc.forecast_step :] <= threshold).any(axis=(0, 1))
    assert np.array_equal(ens.outcome == result.outcome_names.index("spiral"), closed)


def test_adding_the_plugin_changes_only_the_runs_it_takes(result):
    """Without the plugin's class, the runs it took are relapses, de-escalations or
    unresolved (lower precedence), and every other run's class and step is unchanged."""
    sc = with_halved()
    sc.outcomes.classes = ["spiral", "relapse", "de_escalation"]
    plain = sim.run(sc, runs=RUNS, seed=3, keep_events=False, keep_trajectories=False)
    a, b = plain.runs, result.runs
    taken = (b["outcome"] == "halved").to_numpy()
    assert (a["outcome"][~taken].astype(str) == b["outcome"][~taken].astype(str)).all()
    assert a["outcome_step"][~taken].equals(b["outcome_step"][~taken])
    assert set(a["outcome"][taken].astype(str)) <= {"relapse", "de_escalation", "unresolved"}
    assert a["calm_step"].equals(b["calm_step"])


def test_summary_runs_table_and_cumulative_incidence_include_it(result):
    s = result.summary()
    assert list(s["outcomes"]) == list(result.outcome_names)
    assert sum(o["p"] for o in s["outcomes"].values()) == pytest.approx(1.0)
    assert "halved" in s["weeks_to_outcome"] and "halved" in s["cumulative_incidence"]
    runs = result.runs
    assert list(runs["outcome"].cat.categories) == list(result.outcome_names)
    count = s["outcomes"]["halved"]["count"]
    assert (runs["outcome"] == "halved").sum() == count
    cif = result.cumulative_incidence()
    assert cif["halved"].iloc[-1] == pytest.approx(count / RUNS)
    assert cif["halved"].is_monotonic_increasing
    assert repr(result).count("halved") == 1


def test_a_plot_includes_it(result):
    fig = result.plot_cumulative_incidence()
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert "halved" in lines
    fig = result.plot_outcomes()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("halved" in text for text in legend)


def test_a_plot_draws_it_in_its_declared_style(result, halved):
    fig = result.plot_cumulative_incidence()
    line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "halved")
    assert matplotlib.colors.same_color(line.get_color(), halved.color)
    assert line.get_marker() == halved.marker


def test_a_story_of_a_halved_run(result):
    text = result.story("halved")
    last = text.splitlines()[-1]
    assert last.startswith("outcome: halved — halved on ")
    assert "below half its size at the forecast start" in last


def test_docs_show_the_tested_example():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    section = doc[doc.index("## An outcome plugin") :]
    code = (PLUGINS / "example_outcome.py").read_text()
    body = code[code.index("from sim.outcome_classes") :]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert any(body.strip() in block for block in blocks)
    assert 'classes = ["spiral", "halved", "relapse", "de_escalation"]' in section
