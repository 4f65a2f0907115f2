"""What-if events (--event, --take-offer, sim.run(events=..., take_offer=...)) and the
warning for a scenario that cannot forecast anything (forecast_warnings)."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import tomli_w

import sim
from sim.cli import main
from sim.engine.missions import Kind
from sim.scenario import (
    WHATIF_SOURCE,
    ScenarioError,
    forecast_warnings,
    load_scenario,
    parse_event_spec,
    scenario_from_dict,
)

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"
CANCEL = "date=2021-12-08,actor=us,target=russia,kind=cancel"
EXPEL = "date=2021-12-15,actor=russia,target=us,kind=expel,size=5,deadline=2022-01-12"


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def added(sc, kind: Kind) -> list:
    return [ev for ev in sc.events if ev.kind == kind and ev.source == WHATIF_SOURCE]


# ---------------------------------------------------------------- the syntax
class TestSpec:
    def test_key_value_pairs_read_like_set(self):
        ev = parse_event_spec(
            "date=2021-12-15, actor=russia, target=us, kind=expel, size=5, "
            'deadline=2022-01-12, note="talks, then orders", mission=us:russia'
        )
        assert ev == {
            "date": dt.date(2021, 12, 15),
            "actor": "russia",
            "target": "us",
            "kind": "expel",
            "size": 5,
            "deadline": dt.date(2022, 1, 12),
            "note": "talks, then orders",
            "mission": ["us", "russia"],
        }

    def test_text_fields_are_text_as_typed(self):
        ev = parse_event_spec("note=2 more,source=[A-x] [A-y],mission=['us', 'russia']")
        assert ev == {"note": "2 more", "source": "[A-x] [A-y]", "mission": ["us", "russia"]}

    @pytest.mark.parametrize(
        ("text", "words"),
        [
            ("", "KEY=VALUE"),
            ("date=2021-12-08,actor", "KEY=VALUE"),
            ("date=2021-12-08,date=2021-12-09", "given twice"),
            ('note="unclosed', "closing"),
            ("mission=[us, russia", "brackets"),
        ],
    )
    def test_malformed(self, text, words):
        with pytest.raises(ValueError, match=words):
            parse_event_spec(text)


# ------------------------------------------------------ the event in the scenario
class TestEvent:
    def test_reaches_the_scenario_in_date_order(self):
        base = load_scenario(MAIN)
        sc = base.with_events([parse_event_spec(EXPEL)], labels=["--event"], cli=True)
        assert len(sc.events) == len(base.events) + 1
        (ev,) = added(sc, Kind.EXPEL)
        assert (ev.date, ev.actor, ev.target, ev.size) == (dt.date(2021, 12, 15), "russia", "us", 5)
        assert ev.mission == "us_in_russia"
        assert ev.step == sc.step_of(dt.date(2021, 12, 15)) == 49
        assert ev.deadline_step == sc.step_of(dt.date(2022, 1, 12)) == 53
        dates = [e.date for e in sc.events]
        assert dates == sorted(dates)
        assert sc.raw["events"][ev.index]["date"] == dt.date(2021, 12, 15)
        assert sc.added_events == [
            {
                "date": "2021-12-15",
                "actor": "russia",
                "target": "us",
                "kind": "expel",
                "size": 5,
                "deadline": "2022-01-12",
                "source": WHATIF_SOURCE,
                "index": ev.index,
                "added_by": "--event",
            }
        ]

    def test_inserted_among_later_events_and_after_equal_dates(self):
        base = load_scenario(MAIN)
        sc = base.with_events([{"date": "2021-11-27", "actor": "russia", "target": "us",
                                "kind": "expel", "size": 3}])  # fmt: skip
        # After the two events of 2021-11-27 (events.5 and 6), before those of 12-01.
        assert sc.events[7].kind == Kind.EXPEL and sc.events[7].size == 3
        assert sc.events[7].source == WHATIF_SOURCE
        assert [e.note for e in sc.events[8:]] == [e.note for e in base.events[7:]]

    def test_cli_records_it_in_the_summary(self, capsys):
        code, out, err = run_cli(capsys, "run", MAIN, "--runs", "50", "--json", "--event", EXPEL)
        assert code == 0, err
        summary = json.loads(out)
        (rec,) = summary["events_added"]
        assert rec["date"] == "2021-12-15" and rec["kind"] == "expel" and rec["size"] == 5
        assert rec["added_by"] == "--event"
        assert summary["warnings"] == []

    def test_set_counts_the_file_events(self, capsys):
        # --set applies first: events.7 is still Russia's order of 2021-12-01.
        code, out, err = run_cli(
            capsys, "validate", MAIN, "--set", "events.7.size=27", "--event", EXPEL
        )
        assert code == 0, err
        assert "what-if events: 1" in out
        sc = load_scenario(MAIN, {"events.7.size": 27}).with_events([parse_event_spec(EXPEL)])
        assert sc.events[7].size == 27

    def test_validate_lists_it(self, capsys):
        code, out, err = run_cli(capsys, "validate", MAIN, "--event", CANCEL)
        assert code == 0, err
        assert "events.10 2021-12-08 us cancel -> russia (--event)" in out

    @pytest.mark.parametrize(
        ("spec", "where"),
        [
            ("date=2021-12-08,actor=us,target=russia,kind=cancl", "--event, field kind"),
            ("date=2021-12-08,actor=usa,target=russia,kind=cancel", "--event, field actor"),
            ("date=2021-12-08,actor=us,target=russia,kind=expel", "--event, field size"),
            ("date=2021-12-08,actor=us,target=russia,kind=cancel,size=3", "--event, field size"),
            ("date=2021-12-08,actor=us,target=russia,kind=cancel,sizee=3", "--event, field sizee"),
            ("date=2030-01-01,actor=us,target=russia,kind=cancel", "--event, field date"),
            ("date=2021-12-32,actor=us,target=russia,kind=cancel", "--event, field date"),
            ("date=2021-12-08,actor=us,target=russia", "--event, field kind"),
            ("actor=us,target=russia,kind=cancel", "--event, field date"),
            ("date=2021-12-08,actor=us,target=russia,kind=expel,size=5,deadline=2021-12-01",
             "--event, field deadline"),
            ("date=2021-12-08,actor=us,target=russia,kind=cancel,source=", "--event, field source"),
            ("date=2021-12-08,actor=us,target=russia,kind=cancel,mission=us:china",
             "--event, field mission.1"),
            ("date=2021-12-08,actor", "--event 'date=2021-12-08,actor': expected KEY=VALUE"),
            ("", "--event '': expected KEY=VALUE"),
        ],
    )  # fmt: skip
    @pytest.mark.parametrize("command", ["run", "validate"])
    def test_bad_spec_is_exit_2_naming_the_field(self, capsys, command, spec, where):
        runs = ["--runs", "10"] if command == "run" else []
        code, _, err = run_cli(capsys, command, MAIN, *runs, "--event", spec)
        assert code == 2
        assert where in err
        assert "Traceback" not in err and "internal error" not in err

    def test_the_second_of_two_events_is_named(self, capsys):
        code, _, err = run_cli(
            capsys, "run", MAIN, "--event", EXPEL, "--event", CANCEL.replace("cancel", "cancle")
        )
        assert code == 2
        assert "--event 2, field kind" in err and "did you mean 'cancel'?" in err
        assert "--event 1" not in err

    def test_python_names_the_event_and_field(self):
        with pytest.raises(ScenarioError) as info:
            sim.run(MAIN, runs=10, events=[parse_event_spec(EXPEL), {"date": "2021-12-08"}])
        paths = [p.path for p in info.value.problems]
        assert "events[1], field actor" in paths and "events[1], field kind" in paths
        assert not any(p.startswith("events[0]") for p in paths)
        with pytest.raises(TypeError, match="list of event tables"):
            sim.run(MAIN, runs=10, events={"date": "2021-12-08"})

    def test_sweep_takes_it(self, capsys):
        code, _, err = run_cli(
            capsys, "sweep", MAIN, "--param", "states.us.policy.reciprocate=0,1", "--runs", "50",
            "--workers", "1", "--quiet", "--json", "--event", "date=2021-12-08,kind=cancl",
        )  # fmt: skip
        assert code == 2 and "--event, field kind" in err


# -------------------------------------------------------------- --take-offer
class TestTakeOffer:
    def test_adds_a_us_cancel_just_after_russias_offer(self, capsys):
        base = load_scenario(MAIN)
        (offer,) = [ev for ev in base.events if ev.kind == Kind.OFFER]
        assert (offer.actor, offer.target, offer.date) == ("russia", "us", dt.date(2021, 12, 1))
        sc = base.with_events([], take_offer="us")
        (cancel,) = [ev for ev in sc.events if ev.kind == Kind.CANCEL]
        assert (cancel.actor, cancel.target) == ("us", "russia")
        assert cancel.mission == "russia_in_us"  # the US's own measures, on Russia's mission
        assert cancel.step == offer.step + 1
        assert cancel.date == dt.date(2021, 12, 8) == sc.date_of(offer.step + 1)
        assert sc.added_events[0]["added_by"] == "take_offer='us'"
        assert "accepts russia's conditional offer of 2021-12-01" in sc.added_events[0]["note"]
        code, out, err = run_cli(capsys, "run", MAIN, "--runs", "200", "--take-offer", "us",
                                 "--json")  # fmt: skip
        assert code == 0, err
        summary = json.loads(out)
        assert summary["events_added"][0]["added_by"] == "--take-offer us"
        assert summary["events_added"][0]["date"] == "2021-12-08"
        # The engine treats the cancellation as the offer's acceptance, in every run.
        assert summary["why"]["offer_accepted"]["p"] == 1.0

    def test_without_an_offer_fails_clearly(self, capsys):
        code, _, err = run_cli(capsys, "run", TEACHING, "--take-offer", "alpha")
        assert code == 2
        assert "--take-offer alpha: the scenario has no offer toward alpha" in err
        assert "--event date=" in err  # says what to do instead
        code, _, err = run_cli(capsys, "validate", MAIN, "--take-offer", "russia")
        assert code == 2 and "no offer toward russia" in err
        with pytest.raises(ScenarioError, match="no offer toward alpha"):
            sim.run(TEACHING, runs=10, take_offer="alpha")

    def test_unknown_state(self, capsys):
        code, _, err = run_cli(capsys, "run", MAIN, "--take-offer", "usa")
        assert code == 2
        assert "--take-offer usa: expected a state id" in err and "did you mean 'us'?" in err

    def test_two_offers_are_ambiguous(self, capsys):
        second = "date=2022-02-02,actor=russia,target=us,kind=offer"
        code, _, err = run_cli(capsys, "validate", MAIN, "--event", second, "--take-offer", "us")
        assert code == 2
        assert "2 offers toward us" in err and "ambiguous" in err
        assert "--event date=2021-12-08,actor=us,target=russia,kind=cancel" in err
        assert "Traceback" not in err

    def test_an_offer_in_the_history_is_accepted_at_the_forecast_start(self):
        sc = load_scenario(MAIN, {"scenario.forecast_start": dt.date(2021, 12, 22)})
        sc = sc.with_events([], take_offer="us")
        (cancel,) = [ev for ev in sc.events if ev.kind == Kind.CANCEL]
        assert cancel.date == dt.date(2021, 12, 22)


# ------------------------------------------------- reproducible from the output
class TestReproducible:
    def test_resolved_scenario_round_trips(self, capsys, tmp_path):
        out = tmp_path / "r"
        code, _, err = run_cli(capsys, "run", MAIN, "--runs", "100", "--out", out, "--quiet",
                               "--event", EXPEL, "--take-offer", "us")  # fmt: skip
        assert code == 0, err
        expected = load_scenario(MAIN).with_events(
            [parse_event_spec(EXPEL)], take_offer="us", labels=["--event"]
        )
        resolved = load_scenario(out / "scenario.toml")
        assert resolved.events == expected.events
        assert resolved.raw["events"] == expected.raw["events"]
        summary = json.loads((out / "summary.json").read_text())
        manifest = json.loads((out / "manifest.json").read_text())
        # In the order of their dates: the acceptance (12-08) comes before the order (12-15).
        assert [r["added_by"] for r in summary["events_added"]] == ["--take-offer us", "--event"]
        assert manifest["events_added"] == summary["events_added"]
        assert "--take-offer" in manifest["command"]
        # Run from the output directory alone, it gives the same runs.
        again = sim.run(out / "scenario.toml", runs=100)
        first = pd.read_parquet(out / "runs.parquet")
        assert list(again.runs["outcome"]) == list(first["outcome"])
        loaded = sim.load_results(out)
        assert loaded.summary()["events_added"] == summary["events_added"]

    def test_cli_and_python_give_the_same_runs(self, capsys, tmp_path):
        out = tmp_path / "cli"
        code, _, err = run_cli(capsys, "run", MAIN, "--runs", "400", "--seed", "7", "--out", out,
                               "--quiet", "--no-trajectories", "--take-offer", "us",
                               "--event", EXPEL)  # fmt: skip
        assert code == 0, err
        cli_runs = pd.read_parquet(out / "runs.parquet")
        py = sim.run(MAIN, runs=400, seed=7, take_offer="us", events=[
            {"date": "2021-12-15", "actor": "russia", "target": "us", "kind": "expel",
             "size": 5, "deadline": dt.date(2022, 1, 12)}
        ], keep_trajectories=False)  # fmt: skip
        assert list(py.runs["outcome"]) == list(cli_runs["outcome"])
        assert list(py.runs["offer_accepted"]) == list(cli_runs["offer_accepted"])
        base = sim.run(MAIN, runs=400, seed=7, keep_trajectories=False)
        assert list(base.runs["outcome"]) != list(py.runs["outcome"])  # it changed something


# ------------------------------------------------------------------ warnings
def _quiet_scenario(recall_days: int = 0, **policy) -> dict:
    """Two tit-for-tat states; both orders are history (before forecast_start)."""
    events = [
        {"date": dt.date(2021, 1, 8), "actor": "a", "target": "b", "kind": "expel", "size": 5,
         "deadline": dt.date(2021, 1, 29), "source": "[test]"},
        {"date": dt.date(2021, 1, 15), "actor": "b", "target": "a", "kind": "expel", "size": 5,
         "deadline": dt.date(2021, 2, 5), "source": "[test]"},
    ]  # fmt: skip
    return {
        "scenario": {
            "name": "quiet",
            "start": dt.date(2021, 1, 1),
            "horizon_steps": 40,
            "forecast_start": dt.date(2021, 2, 5),
            "recall_days": recall_days,
            "runs": 50,
        },
        "states": {
            "a": {"policy": {"kind": "tit_for_tat", **policy}},
            "b": {"policy": {"kind": "tit_for_tat"}},
        },
        "missions": {
            "a_in_b": {"sender": "a", "host": "b", "diplomats": 60},
            "b_in_a": {"sender": "b", "host": "a", "diplomats": 60},
        },
        "events": events,
    }


class TestForecastWarnings:
    def test_history_only_without_recall(self):
        (warning,) = forecast_warnings(scenario_from_dict(_quiet_scenario(), "<quiet>"))
        assert "recall_days" in warning
        assert "forecast_start (2021-02-05)" in warning
        # Back to the first order of the last round (2021-01-08, 28 days before).
        assert "Set recall_days to 28 days" in warning
        assert "--set scenario.recall_days=28" in warning

    def test_the_suggested_recall_days_makes_it_forecast(self):
        sc = scenario_from_dict(_quiet_scenario(recall_days=28), "<quiet>")
        assert forecast_warnings(sc) == []
        result = sim.run(sc, runs=20)
        assert result.runs["hostile_acts.a"].min() > 0  # the policies answered
        quiet = sim.run(scenario_from_dict(_quiet_scenario(), "<quiet>"), runs=20)
        assert quiet.runs["outcome"].nunique() == 1
        assert (quiet.runs["hostile_acts.a"] == 0).all()  # nothing after the history

    def test_too_short_a_recall(self):
        (warning,) = forecast_warnings(scenario_from_dict(_quiet_scenario(10), "<quiet>"))
        assert "recall_days = 10 reaches back only to 2021-01-26" in warning

    @pytest.mark.parametrize(
        "policy",
        [
            {"provocation_rate": 0.5},
            {"conciliation_rate": 0.5},
            {"kind": "grit"},
            {"provocation_rate": {"dist": "uniform", "low": 0, "high": 1}},
        ],
    )
    def test_a_policy_acting_unprompted_forecasts(self, policy):
        assert forecast_warnings(scenario_from_dict(_quiet_scenario(**policy), "<q>")) == []

    def test_an_event_in_the_forecast(self):
        raw = _quiet_scenario()
        sc = scenario_from_dict(raw, "<q>").with_events(
            [{"date": "2021-02-05", "actor": "a", "target": "b", "kind": "expel", "size": 1}]
        )
        assert forecast_warnings(sc) == []

    def test_a_replay_with_no_policy_is_not_warned_about(self):
        raw = _quiet_scenario()
        raw["states"] = {"a": {}, "b": {"policy": {"kind": "passive"}}}
        assert forecast_warnings(scenario_from_dict(raw, "<q>")) == []

    def test_no_history_to_recall(self):
        raw = _quiet_scenario()
        del raw["events"]
        (warning,) = forecast_warnings(scenario_from_dict(raw, "<q>"))
        assert "recall_days" in warning and "no hostile act to recall" in warning

    def test_cli_prints_it_and_the_summary_holds_it(self, capsys, tmp_path):
        path = tmp_path / "quiet.toml"
        path.write_text(tomli_w.dumps(_quiet_scenario()))
        code, out, err = run_cli(capsys, "validate", path)
        assert code == 0, err
        assert err.startswith("warning: ") and "recall_days" in err
        code, out, err = run_cli(capsys, "run", path, "--runs", "20", "--json")
        assert code == 0
        assert "warning: " in err and "recall_days" in err
        (warning,) = json.loads(out)["warnings"]
        assert "Set recall_days to 28 days" in warning
        assert sim.run(path, runs=10).summary()["warnings"] == [warning]
        fixed = tmp_path / "fixed.toml"
        fixed.write_text(tomli_w.dumps(_quiet_scenario(recall_days=28)))
        code, _, err = run_cli(capsys, "validate", fixed)
        assert code == 0 and "warning" not in err

    @pytest.mark.parametrize(
        "path", sorted((ROOT / "scenarios").glob("*.toml")), ids=lambda p: p.name
    )
    def test_shipped_scenarios_have_none(self, path):
        raw = tomllib.loads(path.read_text())
        assert "scenario" in raw
        assert forecast_warnings(load_scenario(path)) == []
