"""The ensemble runner: blocks, summaries, the per-run table, and memory released per block."""

from __future__ import annotations

import weakref
from pathlib import Path

import mesa
import numpy as np
import pytest

from sim.model import OUTCOMES, EscalationModel
from sim.runner import run_ensemble
from sim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "us_russia_2021.toml"


@pytest.fixture(scope="module")
def ensemble():
    return run_ensemble(load_scenario(SCENARIO), runs=3000, block_size=700)


def test_summary_is_consistent_with_the_runs(ensemble):
    s = ensemble.summary()
    counts = np.bincount(ensemble.outcome, minlength=len(OUTCOMES))
    for code, name in enumerate(OUTCOMES):
        assert s["outcomes"][name]["count"] == counts[code]
    cif = s["cumulative_incidence"]
    for name in ("spiral", "de_escalation", "relapse"):
        curve = np.array(cif[name])
        assert (np.diff(curve) >= 0).all()
        # The summary's curves are rounded to six decimals.
        assert curve[-1] == pytest.approx(s["outcomes"][name]["p"], abs=5e-7)
    assert len(cif["date"]) == ensemble.scenario.n_steps - ensemble.scenario.forecast_step
    assert cif["date"][-1] == s["horizon_end"] == "2023-11-28"
    spiral = ensemble.outcome == OUTCOMES.index("spiral")
    weeks = ensemble.weeks_to_outcome()[spiral]
    assert s["weeks_to_outcome"]["spiral"]["q50"] == pytest.approx(np.median(weeks))
    assert np.isnan(ensemble.weeks_to_outcome()[ensemble.outcome == 0]).all()
    assert sum(s["why"]["spirals_by_closed_mission"].values()) == spiral.sum()
    accepted = s["why"]["offer_accepted"]["count"]
    assert accepted == ensemble.offer_accepted.sum()
    if accepted:
        assert s["why"]["outcomes_if_offer_accepted"]["runs"] == accepted


def test_runs_table(ensemble):
    table = ensemble.runs_table()
    assert len(table) == 3000
    assert list(table["run"]) == list(range(3000))
    resolved = table["outcome"] != "unresolved"
    assert table.loc[resolved, "outcome_step"].notna().all()
    assert table.loc[~resolved, "outcome_date"].isna().all()
    assert (table["final_staff.us_in_russia"] >= 0).all()
    assert (table["staff_lost.us"] >= 0).all()


def test_first_run_offsets_the_run_indices():
    sc = load_scenario(SCENARIO)
    whole = run_ensemble(sc, runs=300)
    tail = run_ensemble(sc, runs=100, first_run=200)
    assert list(tail.run_ids) == list(range(200, 300))
    assert np.array_equal(tail.final_staff, whole.final_staff[:, 200:])
    assert np.array_equal(tail.outcome_step, whole.outcome_step[200:])


def test_bad_sizes():
    sc = load_scenario(SCENARIO)
    with pytest.raises(ValueError):
        run_ensemble(sc, runs=0)
    with pytest.raises(ValueError):
        run_ensemble(sc, runs=10, block_size=0)


def test_a_finished_block_is_freed():
    # Mesa 3.3 keeps every model in a class-level dict of id counters; the runner
    # releases each block so that memory does not grow with the number of blocks.
    model = EscalationModel(load_scenario(SCENARIO), runs=np.arange(50))
    model.run()
    buffers = weakref.ref(model.missions)
    model.release()
    assert buffers() is None
    assert model not in getattr(mesa.Agent, "_ids", {})
