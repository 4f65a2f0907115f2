"""The explorer's logic without a browser: controls, settings, numbers and exports.

The page only turns controls into :class:`Settings` and shows what :class:`Explorer`
returns; these tests pin that what it returns is what ``sim run`` gives for the same
options (tests/test_explore_browser.py drives the page itself).
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.cli import main
from sim.explore.controls import controls_for, events_for, offers_for
from sim.explore.session import Cancelled, Explorer, Settings, check
from sim.policies import POLICIES

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"
UNCERTAIN = ROOT / "scenarios" / "us_russia_2021_uncertain.toml"
RUNS = 400


@pytest.fixture(scope="module")
def explorer() -> Explorer:
    return Explorer(MAIN)


class TestControls:
    def test_every_policy_parameter_of_every_state_has_a_control(self, explorer):
        controls = controls_for(explorer.base)
        for state in explorer.base.states:
            kind = explorer.base.raw["states"][state]["policy"]["kind"]
            declared = {
                name for name, p in POLICIES[kind].all_params().items() if p.kind != "ladder"
            }
            found = {c.name for c in controls if c.state == state}
            assert found == declared
        assert all(c.path == f"states.{c.state}.policy.{c.name}" for c in controls)

    def test_slider_spans_stay_inside_the_declared_range_and_hold_the_value(self, explorer):
        for c in controls_for(explorer.base):
            if c.kind == "instrument":
                continue
            param = POLICIES[explorer.base.raw["states"][c.state]["policy"]["kind"]].all_params()[
                c.name
            ]
            values = c.value if isinstance(c.value, list) else [c.value]
            assert c.low <= min(values) and max(values) <= c.high, c.path
            if param.kind != "prob":
                assert param.low is None or c.low >= param.low, c.path
                assert param.high is None or c.high <= param.high, c.path
            # a narrower span says what the declared range is
            full = (
                param.low is not None
                and param.high is not None
                and (c.low, c.high) == (param.low, param.high)
            )
            assert full or param.kind == "prob" or c.declared, c.path

    def test_the_scenario_values_are_the_controls_values(self, explorer):
        by_path = {c.path: c for c in controls_for(explorer.base)}
        assert by_path["states.us.policy.ratio"].value == 1.0
        assert by_path["states.us.policy.lag"].value == [1, 5]
        assert by_path["states.russia.policy.respond_prob"].value == 0.6

    def test_a_drawn_parameter_says_so(self):
        controls = controls_for(sim.load_scenario(UNCERTAIN))
        drawn = [c for c in controls if c.drawn]
        assert drawn and all("(" in c.drawn for c in drawn)
        assert any(c.path == "states.russia.policy.ratio" for c in drawn)

    def test_events_are_numbered_as_drop_event_takes_them(self, explorer):
        events = events_for(explorer.base)
        assert [e.index for e in events] == list(range(len(explorer.base.events)))
        assert [e.forecast for e in events][-3:] == [True, True, True]
        assert offers_for(explorer.base) == [
            ("us", "United States takes Russia's offer of 2021-12-01")
        ]


SETTINGS = (
    Settings(runs=RUNS, seed=5)
    .with_override("states.us.policy.ratio", 0.6)
    .with_override("states.russia.policy.lag", [0, 2])
    .with_dropped(9, True)
    .with_event(
        {"date": "2022-03-02", "actor": "us", "target": "russia", "kind": "expel", "size": 7}
    )
)


def _by_sim_run(**options):
    """SETTINGS's ensemble as sim.run gives it, from the same options."""
    return sim.run(
        MAIN,
        runs=SETTINGS.runs,
        seed=SETTINGS.seed,
        overrides=dict(SETTINGS.overrides),
        drop_events=list(SETTINGS.dropped),
        events=[dict(ev) for ev in SETTINGS.events],
        **options,
    )


class TestSameAsTheCommandLine:
    def test_the_numbers_are_sim_runs(self, explorer):
        base, variant = explorer.compute(SETTINGS)
        reference = _by_sim_run(keep_events=False)
        np.testing.assert_array_equal(variant.ensemble.outcome, reference.ensemble.outcome)
        np.testing.assert_array_equal(
            variant.ensemble.trajectories, reference.ensemble.trajectories
        )
        plain = sim.run(MAIN, runs=RUNS, seed=5, keep_events=False)
        np.testing.assert_array_equal(base.ensemble.outcome, plain.ensemble.outcome)
        table = explorer.table(base, variant)
        for row in table.rows:
            assert row["p"] == reference.summary()["outcomes"][row["outcome"]]["p"]
            assert row["base_p"] == plain.summary()["outcomes"][row["outcome"]]["p"]
            paired = sim.paired_difference(plain, reference, row["outcome"])
            assert row["diff"] == pytest.approx(paired["diff"])
            assert row["diff_ci95"] == pytest.approx((paired["ci95_low"], paired["ci95_high"]))

    def test_exported_toml_is_what_the_command_writes(self, explorer, tmp_path):
        out = tmp_path / "cli"
        args = ["run", str(MAIN), *SETTINGS.arguments(), "--out", str(out), "--quiet"]
        assert main([*args, "--no-whatif", "--no-events"]) == 0
        assert explorer.scenario_toml(SETTINGS) == (out / "scenario.toml").read_text()
        summary = sim.load_results(out).summary()["outcomes"]
        _, variant = explorer.compute(SETTINGS)
        assert {k: v["p"] for k, v in summary.items()} == {
            k: v["p"] for k, v in variant.summary()["outcomes"].items()
        }

    def test_the_command_line_shown_round_trips(self):
        command = SETTINGS.command("scenarios/us_russia_2021.toml")
        assert "--set states.us.policy.ratio=0.6" in command
        assert "--set 'states.russia.policy.lag=[0, 2]'" in command
        assert "--drop-event 9" in command
        assert "--event date=2022-03-02,actor=us,target=russia,kind=expel,size=7" in command

    def test_results_zip_is_a_results_folder(self, explorer, tmp_path):
        _, variant = explorer.compute(SETTINGS)
        data = Explorer.results_zip(variant, ["python", "-m", "sim", "explore"])
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(tmp_path)
        folder = tmp_path / variant.scenario.name
        loaded = sim.load_results(folder)
        np.testing.assert_array_equal(loaded.ensemble.outcome, variant.ensemble.outcome)
        assert loaded.scenario.dropped_events == variant.scenario.dropped_events
        assert main(["plot", str(folder)]) == 0
        assert (folder / "fan_chart.png").is_file()


class TestBehaviour:
    def test_the_baseline_is_computed_once_per_runs_and_seed(self, explorer):
        explorer.compute(Settings(runs=RUNS, seed=11))
        first = explorer.baseline(RUNS, 11)
        explorer.compute(Settings(runs=RUNS, seed=11).with_override("states.us.policy.ratio", 2))
        assert explorer.baseline(RUNS, 11) is first

    def test_progress_rises_to_one_and_a_stop_cancels(self, explorer):
        seen: list[float] = []
        explorer.compute(Settings(runs=100, seed=3).with_dropped(8, True), seen.append)
        assert seen == sorted(seen) and math.isclose(seen[-1], 1.0) and len(seen) > 5
        with pytest.raises(Cancelled):
            explorer.compute(Settings(runs=100, seed=4), should_stop=lambda: True)

    def test_invalid_settings_are_a_message_not_a_traceback(self, explorer):
        bad = Settings().with_override("states.us.policy.ratio", -1)
        assert "ratio" in check(bad, explorer)
        assert "no such event" in check(Settings(dropped=(99,)), explorer)
        event = {"date": "1999-01-01", "actor": "us", "target": "russia", "kind": "expel"}
        assert check(Settings().with_event(event), explorer)

    def test_story_of_a_run_is_that_run_of_the_ensemble(self, explorer):
        story = explorer.story(SETTINGS, 17)
        result = _by_sim_run()
        assert story == result.story(17)
        with pytest.raises(ValueError, match="no run"):
            explorer.story(SETTINGS, RUNS)


class TestDropEvent:
    def test_drop_event_on_the_command_line(self, capsys):
        assert main(["validate", str(MAIN), "--drop-event", "12"]) == 2
        assert "no such event" in capsys.readouterr().err
        assert main(["validate", str(MAIN), "--drop-event", "8"]) == 0
        shown = capsys.readouterr().out
        assert "events left out: 1" in shown and "(--drop-event 8)" in shown

    def test_dropping_changes_what_runs_and_is_recorded(self):
        kept = sim.run(MAIN, runs=200, seed=1, keep_events=False)
        dropped = sim.run(MAIN, runs=200, seed=1, drop_events=[8], keep_events=False)
        assert len(dropped.scenario.events) == len(kept.scenario.events) - 1
        assert dropped.summary()["events_dropped"][0]["kind"] == "offer"
        assert "events_dropped" not in kept.summary()


class TestCharts:
    def test_incidence_bands_are_the_results_own(self, explorer):
        from sim.explore import app

        _, variant = explorer.compute(SETTINGS)
        table = variant.cumulative_incidence()
        found = app.incidence(variant)
        assert set(found) == set(variant.timed_outcomes)
        for name, (share, low, high) in found.items():
            np.testing.assert_allclose(share, table[name].to_numpy(), atol=1e-12)
            np.testing.assert_allclose(low, table[f"{name}_low"].to_numpy(), atol=1e-12)
            np.testing.assert_allclose(high, table[f"{name}_high"].to_numpy(), atol=1e-12)

    def test_fan_chart_median_is_the_runs_median(self, explorer):
        from sim.explore import app

        _, variant = explorer.compute(SETTINGS)
        option = app.fan_chart(variant)
        named = [s for s in option["series"] if "name" in s]
        assert option["legend"]["data"] == [
            "United States mission in Russia",
            "Russia mission in United States",
        ]
        traj = variant.ensemble.trajectories
        last = [s["data"][-1][1] for s in named]
        assert last == [float(np.percentile(traj[-1, i], 50).round(1)) for i in range(2)]


def test_docs_quote_the_measured_response_time():
    """docs/explore.md's figures are benchmarks/results/explore.json's, as
    benchmarks/bench_explore.py --write renders them."""
    import json

    from docs_support import docs_block

    bench = docs_block.load_benchmark(ROOT / "benchmarks" / "bench_explore.py")
    figures = json.loads((ROOT / "benchmarks" / "results" / "explore.json").read_text())
    assert docs_block.read(ROOT / "docs" / "explore.md", "explore-figures") == (
        bench.summary_text(figures)
    )
    assert figures["runs"] == 10_000 and len(figures["seconds"]) >= 5
    import statistics

    assert figures["median_s"] == round(statistics.median(figures["seconds"]), 3)


class TestCommand:
    def test_a_bad_scenario_or_a_taken_port_is_a_message(self, tmp_path, capsys):
        import socket

        bad = tmp_path / "bad.toml"
        bad.write_text("[scenario]\nname = 1\n")
        assert main(["explore", str(bad)]) == 2
        assert "invalid scenario" in capsys.readouterr().err
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]
            assert main(["explore", str(MAIN), "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert f"cannot serve on 127.0.0.1:{port}" in err and "Traceback" not in err
        assert main(["explore", str(MAIN), "--port", "70000"]) == 2
        assert "expected a port 1-65535" in capsys.readouterr().err


class TestWorkers:
    def test_two_worker_processes_give_the_same_runs(self, monkeypatch):
        from sim.explore import session

        monkeypatch.setattr(session, "PARALLEL_FROM", 100)
        parallel = Explorer(MAIN, workers=2)
        try:
            seen: list[float] = []
            _, variant = parallel.compute(SETTINGS, progress=seen.append)
            serial = _by_sim_run(keep_events=False)
            np.testing.assert_array_equal(variant.ensemble.outcome, serial.ensemble.outcome)
            np.testing.assert_array_equal(
                variant.ensemble.trajectories, serial.ensemble.trajectories
            )
            assert seen[-1] == 1.0
            with pytest.raises(Cancelled):
                parallel.compute(Settings(runs=RUNS, seed=99), should_stop=lambda: True)
            # a cancelled job does not stop the next one
            _, again = parallel.compute(SETTINGS)
            np.testing.assert_array_equal(again.ensemble.outcome, serial.ensemble.outcome)
        finally:
            parallel.close()
