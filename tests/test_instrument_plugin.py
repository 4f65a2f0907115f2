"""The instrument plugin (tests/plugins/example_instrument.py) used by a scenario file
without touching sim/: it validates, runs, takes its staff at the deadline, is chosen
from a ladder, is cancelled like any measure, and needs the plugin to be loaded."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.engine import instruments
from sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "tests" / "plugins" / "scenarios" / "uk_russia_2018_institute.toml"
PLUGINS = ["tests.plugins.example_instrument", "tests.plugins.example_outcome",
           "tests.plugins.example_policy"]  # fmt: skip


@pytest.fixture(scope="module")
def registered():
    """The three plugins registered while this module's tests run."""
    from sim import outcome_classes, policies

    state = instruments.registry_state()
    policies_before = dict(policies.POLICIES)
    outcomes_before = outcome_classes.registry_state()
    # Each registers on import; another test module may have imported it already
    # under another module name (then it is registered, and importing it again here
    # would be a second, different class of the same name).
    if "close_institute" not in instruments.INSTRUMENTS:
        from tests.plugins import example_instrument

        instruments.register_instrument(example_instrument.CloseInstitute)
    if "halved" not in {c.name for c in outcome_classes.registered_outcomes()}:
        from tests.plugins import example_outcome  # noqa: F401
    if "two_strikes" not in policies.POLICIES:
        from tests.plugins import example_policy

        policies.register_policy(example_policy.TwoStrikes)
    yield
    instruments.restore_registry(state)
    policies.POLICIES.clear()
    policies.POLICIES.update(policies_before)
    outcome_classes.restore_registry(outcomes_before)


@pytest.fixture(scope="module")
def result(registered):
    return sim.run(SCENARIO, runs=400, seed=1)


def test_the_scenario_needs_the_plugin():
    with pytest.raises(ScenarioError) as err:
        load_scenario(SCENARIO)
    text = str(err.value)
    assert "events.2.kind" in text and "close_institute" in text
    assert "institute_staff" in text  # an unknown mission key without the plugin


def test_the_institute_counts_in_the_mission_and_leaves_at_the_deadline(registered, result):
    sc = load_scenario(SCENARIO)
    assert sc.missions["uk_in_russia"].extra == {"institute_staff": 30}
    assert sc.missions["uk_in_russia"].total == 140
    events = result.events
    closure = events[(events.instrument == "close_institute") & (events.cause == "event")]
    assert len(closure) == 400  # once per run, carried out
    assert (closure.fate == "carried_out").all()
    assert (closure.staff_removed == 30).all()
    # 140 staff; 23 expelled by 2018-03-24, then the institute's 30 at its deadline
    # (2018-04-17), whatever the policies do after.
    staff = result.ensemble.trajectories[:, list(sc.missions).index("uk_in_russia")]
    expelled, closed = sc.events[1].deadline_step, sc.events[2].deadline_step
    assert (staff[expelled - 1] == 140).all()
    assert (staff[expelled] <= 140 - 23).all()
    ev = result.events
    removed = ev[(ev.mission == "uk_in_russia") & (ev.step == closed)]
    assert (removed.groupby("run").staff_removed.sum() >= 30).all()


def test_a_policy_climbs_the_ladder_to_it(registered):
    # The institute left open (event 2 becomes a token expulsion); Russia always moves
    # one rung up its ladder from the act it answers: expel -> close_institute.
    sc = load_scenario(
        SCENARIO,
        {
            "states.russia.policy.ladder": ["expel", "close_institute", "cap"],
            "states.russia.policy.escalate_instrument": 1.0,
            "events.2.kind": "expel",
            "events.2.size": 1,
        },
    )
    res = sim.run(sc, runs=300, seed=3)
    forecast = res.events[~res.events.history]
    answers = forecast[(forecast.actor == "russia") & (forecast.cause == "answer")]
    closures = answers[answers.instrument == "close_institute"]
    assert closures.run.nunique() == answers.run.nunique() > 0
    # Once per run (then it is not feasible, and the next answer climbs to the cap),
    # taking exactly the institute's 30 staff.
    assert closures.groupby("run").size().max() == 1
    assert (closures.staff_removed == 30).all()
    assert (closures["size"] == 30).all()
    later = answers[answers.instrument != "close_institute"]
    assert set(later.instrument.astype(str)) <= {"cap"}


def test_a_cancellation_calls_it_off(registered):
    sc = load_scenario(SCENARIO).with_events(
        [
            {"date": "2018-03-21", "actor": "russia", "target": "uk", "kind": "cancel",
             "source": "what-if"},
        ]
    )  # fmt: skip
    res = sim.run(sc, runs=50, seed=2)
    closure = res.events[(res.events.instrument == "close_institute") & res.events.history]
    assert (closure.fate == "cancelled").all()
    assert (closure.staff_removed == 0).all()


def test_the_command_line_loads_it_with_plugin():
    args = [sys.executable, "-m", "sim", "run", str(SCENARIO), "--runs", "300"]
    for module in PLUGINS:
        args += ["--plugin", module]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "halved" in done.stdout
    without = subprocess.run(args[:7], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert without.returncode != 0
    assert "close_institute" in without.stderr + without.stdout
    assert "Traceback" not in without.stderr


def test_every_run_accounts_for_the_institute_staff(registered, result):
    # The record accounts for every mission's staff: removed staff add up to the loss.
    ev = result.events
    removed = ev[ev.mission == "uk_in_russia"].groupby("run").staff_removed.sum()
    final = result.runs.set_index("run")["final_staff.uk_in_russia"]
    restored = ev[ev.mission == "uk_in_russia"].groupby("run").staff_restored.sum()
    np.testing.assert_array_equal(
        (140 - removed + restored.reindex(removed.index, fill_value=0)).to_numpy(),
        final.loc[removed.index].to_numpy(),
    )


def test_docs_show_the_tested_example():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    code = (ROOT / "tests" / "plugins" / "example_instrument.py").read_text()
    body = code[code.index("from __future__") :]
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert any(body.strip() in block for block in blocks)
