"""The ensemble runner: blocks, summaries, the per-run table, and memory released per block."""

from __future__ import annotations

import dataclasses
import weakref
from pathlib import Path

import mesa
import numpy as np
import pytest

from sim import run_fields
from sim.analysis.runner import run_ensemble
from sim.engine.model import OUTCOMES, EscalationModel
from sim.run_fields import RUN_FIELDS
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


# ------------------------------------------------------------- per-run fields
def test_block_results_have_the_declared_fields_dtypes_and_shapes():
    sc = load_scenario(SCENARIO)
    result = EscalationModel(sc, runs=np.arange(30)).run()
    per = {"run": (30,), "mission": (len(sc.missions), 30), "state": (len(sc.states), 30)}
    declared = [f.name for f in RUN_FIELDS]
    assert [f.name for f in dataclasses.fields(result) if f.name in declared] == declared
    for f in RUN_FIELDS:
        array = getattr(result, f.name)
        assert array.dtype == np.dtype(f.dtype), f.name
        assert array.shape == per[f.per], f.name
    assert result.outcome_names == OUTCOMES


def test_the_runs_table_columns_derive_from_the_fields(ensemble):
    table = ensemble.runs_table()
    # The columns and dtypes that docs, tests and saved results rely on.
    assert list(table.columns) == [
        "run",
        "outcome",
        "outcome_step",
        "outcome_date",
        "weeks_to_outcome",
        "calm_step",
        "calm_date",
        "offer_accepted",
        "closed_mission",
        "final_staff.us_in_russia",
        "final_staff.russia_in_us",
        "staff_lost.us",
        "staff_lost.russia",
        "hostile_acts.us",
        "hostile_acts.russia",
        "conciliatory_acts.us",
        "conciliatory_acts.russia",
    ]
    dtypes = {c: str(t) for c, t in table.dtypes.items()}
    assert dtypes["outcome"] == dtypes["closed_mission"] == "category"
    assert dtypes["outcome_step"] == dtypes["calm_step"] == "Int64"
    assert dtypes["final_staff.us_in_russia"] == "int32" and dtypes["staff_lost.us"] == "int64"
    assert dtypes["offer_accepted"] == "bool" and dtypes["weeks_to_outcome"] == "float64"
    # Read back, the table gives the ensemble's arrays, bit for bit.
    back = run_fields.from_table(table, ensemble.scenario, ensemble.outcome_names)
    for name, array in ensemble.fields().items():
        assert back[name].dtype == array.dtype and np.array_equal(back[name], array), name
    # A table from before calm_step was recorded reads as "never calmed".
    old = run_fields.from_table(
        table.drop(columns=["calm_step", "calm_date"]), ensemble.scenario, OUTCOMES
    )
    assert (old["calm_step"] == -1).all()
    with pytest.raises(ValueError, match="'de_escalation' is not one of this scenario's outcomes"):
        run_fields.from_table(table, ensemble.scenario, ("unresolved", "relapse"))


def test_memory_and_sweep_columns_derive_from_the_fields(ensemble):
    sc = ensemble.scenario
    m, s = len(sc.missions), len(sc.states)
    held = sum(a.nbytes for a in ensemble.fields().values())
    assert run_fields.bytes_per_run(m, s) * ensemble.n_runs == held
    columns = run_fields.sweep_columns(ensemble.fields(), sc)
    summary = ensemble.summary()
    assert columns == {
        "offer_accepted": summary["why"]["offer_accepted"]["p"],
        "staff_lost_mean.us": summary["staff_lost"]["us"]["mean"],
        "staff_lost_mean.russia": summary["staff_lost"]["russia"]["mean"],
    }
    for name in ("final_staff", "staff_lost", "hostile_acts", "conciliatory_acts"):
        assert set(summary[name]) == set(sc.missions if name == "final_staff" else sc.states)
