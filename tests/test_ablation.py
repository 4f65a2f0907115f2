"""sim.ablation: each change alone and all together, paired on the same runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim import Change

ROOT = Path(__file__).resolve().parent.parent
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"


@pytest.fixture(scope="module")
def table():
    changes = {
        "no change": Change({}),
        "alpha doubles": Change(
            {"states.alpha.policy.kind": "proportional", "states.alpha.policy.ratio": 2.0}
        ),
    }
    return sim.ablation(TEACHING, changes, runs=400, seed=3)


def test_a_change_that_changes_nothing_moves_no_run(table):
    same = table[table.variant == "no change"]
    assert (same["diff"] == 0).all() and (same["runs_changed"] == 0).all()
    assert np.allclose(same.p, same.base)


def test_each_row_is_the_paired_difference_of_two_runs_of_sim_run(table):
    base = sim.run(TEACHING, runs=400, seed=3, keep_trajectories=False, keep_events=False)
    moved = sim.run(
        TEACHING,
        runs=400,
        seed=3,
        overrides={"states.alpha.policy.kind": "proportional", "states.alpha.policy.ratio": 2.0},
        keep_trajectories=False,
        keep_events=False,
    )
    for outcome in base.outcome_names:
        row = table[(table.variant == "alpha doubles") & (table.outcome == outcome)].iloc[0]
        expected = sim.paired_difference(base, moved, outcome)
        assert row["diff"] == pytest.approx(expected["diff"])
        assert row["se"] == pytest.approx(expected["se"], nan_ok=True)
        assert row["p"] - row["base"] == pytest.approx(row["diff"])


def test_all_together_is_every_change_at_once(table):
    together = table[table.variant == sim.analysis.ablation.ALL_TOGETHER]
    alone = table[table.variant == "alpha doubles"]
    # "no change" adds nothing, so all together equals the one real change.
    assert np.allclose(together["diff"].to_numpy(), alone["diff"].to_numpy())


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="at least one change"):
        sim.ablation(TEACHING, {}, runs=10)
    with pytest.raises(ValueError, match="unknown outcome"):
        sim.ablation(TEACHING, {"x": Change({})}, runs=10, outcomes=["nope"])
