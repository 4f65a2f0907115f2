"""The shipped scenarios: the scripted replay lands on the published levels."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sim.model import EscalationModel
from sim.runner import run_ensemble
from sim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def staff_on(model_traj: np.ndarray, scenario, mission: str, date: dt.date) -> int:
    """Total staff of a mission after the step that contains ``date``."""
    m = list(scenario.missions).index(mission)
    return int(model_traj[scenario.step_of(date), m, 0])


@pytest.fixture(scope="module")
def replay():
    sc = load_scenario(SCENARIOS / "us_russia_2016_2021_replay.toml")
    model = EscalationModel(sc, runs=np.arange(1), keep_trajectories=True)
    model.run()
    return sc, model.trajectories


@pytest.fixture(scope="module")
def ens():
    sc = load_scenario(SCENARIOS / "us_russia_2021.toml")
    return run_ensemble(sc, runs=2000, keep_trajectories=True)


class TestReplay2016To2021:
    def test_about_1200_before_the_cap(self, replay):
        sc, traj = replay
        assert 1150 <= staff_on(traj, sc, "us_in_russia", dt.date(2017, 7, 1)) <= 1250

    def test_455_after_1_september_2017(self, replay):
        sc, traj = replay
        assert staff_on(traj, sc, "us_in_russia", dt.date(2017, 9, 1)) == 455
        assert staff_on(traj, sc, "us_in_russia", dt.date(2017, 12, 31)) == 455

    def test_about_120_after_august_2021(self, replay):
        sc, traj = replay
        for day in (dt.date(2021, 8, 2), dt.date(2021, 8, 27), dt.date(2021, 11, 30)):
            assert abs(staff_on(traj, sc, "us_in_russia", day) - 120) <= 10

    def test_russia_at_455_in_july_2017(self, replay):
        # Russia's cap of 455 was "the exact number" of Russian staff in the US [A-tass958631].
        sc, traj = replay
        assert staff_on(traj, sc, "russia_in_us", dt.date(2017, 7, 28)) == 455

    def test_staff_never_rise_without_a_restore(self, replay):
        _, traj = replay
        assert (np.diff(traj[:, :, 0], axis=0) <= 0).all()


class TestMainScenario:
    def test_history_is_identical_in_every_run(self, ens):
        f = ens.scenario.forecast_step
        history = ens.trajectories[:f]
        assert (history == history[..., :1]).all()
        m = ens.mission_ids.index("us_in_russia")
        assert abs(int(history[-1, m, 0]) - 120) <= 10

    def test_outcomes_are_mixed_and_sum_to_one(self, ens):
        table = ens.summary()["outcomes"]
        assert sum(o["count"] for o in table.values()) == 2000
        # Neither outcome is a foregone conclusion in the 2021 scenario.
        assert 0.02 < table["spiral"]["p"] < 0.98
        assert 0.02 < table["de_escalation"]["p"] < 0.98

    def test_the_pending_january_orders_are_carried_out_unless_cancelled(self, ens):
        sc = ens.scenario
        m = ens.mission_ids.index("russia_in_us")
        before = ens.trajectories[sc.step_of(dt.date(2022, 1, 19)), m]
        after = ens.trajectories[sc.step_of(dt.date(2022, 2, 2)), m]
        dropped = before - after
        # Unless the US called its orders off (a conciliatory move, alone or to accept
        # Russia's offer), the 27 leave by 30 January.
        us = ens.state_ids.index("us")
        kept = ens.conciliatory_acts[us] == 0
        assert kept.sum() > 1000
        assert (dropped[kept] >= 27).all()
        assert (ens.conciliatory_acts[us][ens.offer_accepted] > 0).all()


def test_teaching_scenario_runs():
    sc = load_scenario(SCENARIOS / "teaching_tit_for_tat.toml")
    ens = run_ensemble(sc, runs=500)
    assert ens.outcome.shape == (500,)
    assert ens.summary()["outcomes"]["spiral"]["count"] > 0


def test_shipped_sweep_file_runs(capsys):
    import json

    from sim.cli import main

    path = SCENARIOS / "sweeps" / "reciprocity.toml"
    code = main(["sweep", str(path), "--runs", "20", "--workers", "1", "--json", "--quiet"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 11 * 3
    assert {r["states.russia.policy.reciprocate"] for r in rows} == {0.4, 0.7, 1.0}
