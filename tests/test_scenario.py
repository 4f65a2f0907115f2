"""Scenario parsing and validation: every problem reported, each with its dotted path."""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from sim.engine.missions import Kind
from sim.scenario import (
    ScenarioError,
    load_scenario,
    parse_override,
    scenario_from_dict,
)


def base() -> dict:
    return {
        "scenario": {
            "name": "t",
            "start": dt.date(2021, 1, 6),
            "horizon_steps": 20,
            "forecast_start": dt.date(2021, 2, 3),
            "runs": 10,
            "seed": 1,
        },
        "states": {
            "us": {"policy": {"kind": "proportional", "ratio": 1.0}},
            "russia": {"policy": {"kind": "tit_for_tat"}},
        },
        "missions": {
            "us_in_russia": {"sender": "us", "host": "russia", "diplomats": 100},
            "russia_in_us": {"sender": "russia", "host": "us", "diplomats": 100},
        },
        "events": [
            {
                "date": dt.date(2021, 1, 13),
                "actor": "us",
                "target": "russia",
                "kind": "expel",
                "size": 10,
                "deadline": dt.date(2021, 2, 10),
                "source": "test",
            }
        ],
    }


def problems(raw: dict) -> dict[str, str]:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(raw, "file.toml")
    assert str(info.value).startswith("file.toml:")
    return {p.path: p.message for p in info.value.problems}


class TestValid:
    def test_builds(self):
        sc = scenario_from_dict(base(), "file.toml")
        assert sc.n_steps == 20
        assert sc.forecast_step == 4
        ev = sc.events[0]
        assert (ev.kind, ev.mission, ev.step, ev.deadline_step) == (
            Kind.EXPEL,
            "russia_in_us",
            1,
            5,
        )
        assert sc.states["us"].policies["russia"]["ratio"] == 1.0
        assert sc.date_of(sc.step_of(dt.date(2021, 3, 1))) <= dt.date(2021, 3, 1)

    def test_horizon_date(self):
        raw = base()
        del raw["scenario"]["horizon_steps"]
        raw["scenario"]["horizon"] = dt.date(2021, 3, 31)
        sc = scenario_from_dict(raw)
        assert sc.n_steps == (dt.date(2021, 3, 31) - dt.date(2021, 1, 6)).days // 7 + 1

    def test_toward_overrides_merge_over_policy(self):
        raw = base()
        raw["states"]["us"]["toward"] = {"russia": {"ratio": 0.5, "noise": 0.2}}
        sc = scenario_from_dict(raw)
        values = sc.states["us"].policies["russia"]
        assert values == {"kind": "proportional", "ratio": 0.5, "noise": 0.2}

    def test_toward_switching_kind_drops_the_old_kinds_parameters(self):
        raw = base()
        raw["states"]["us"]["policy"]["noise"] = 0.3
        raw["states"]["us"]["toward"] = {"russia": {"kind": "passive"}}
        values = scenario_from_dict(raw).states["us"].policies["russia"]
        assert values == {"kind": "passive", "noise": 0.3}

    def test_toml_round_trip(self):
        sc = scenario_from_dict(base())
        again = scenario_from_dict(tomllib.loads(sc.to_toml()))
        assert again.raw == sc.raw


class TestProblems:
    def test_unknown_key_with_suggestion(self):
        raw = base()
        raw["missions"]["us_in_russia"]["diplomat"] = 5
        found = problems(raw)
        assert "did you mean 'diplomats'" in found["missions.us_in_russia.diplomat"]

    def test_every_problem_is_collected(self):
        raw = base()
        raw["missions"]["us_in_russia"]["diplomats"] = -3
        raw["states"]["us"]["policy"]["ratio"] = 50
        raw["events"][0]["actor"] = "usa"
        raw["scenario"]["runs"] = "many"
        found = problems(raw)
        assert "found -3" in found["missions.us_in_russia.diplomats"]
        assert "<= 10" in found["states.us.policy.ratio"]
        assert "did you mean 'us'" in found["events.0.actor"]
        assert "expected an integer" in found["scenario.runs"]
        assert len(found) >= 4

    def test_event_for_a_mission_that_does_not_exist(self):
        raw = base()
        del raw["missions"]["russia_in_us"]
        found = problems(raw)
        assert "no mission" in found["events.0"]

    def test_dates_out_of_order(self):
        raw = base()
        raw["events"].append({**raw["events"][0], "date": dt.date(2021, 1, 7)})
        raw["events"].append({**raw["events"][0], "date": dt.date(2021, 1, 6)})
        found = problems(raw)
        assert "date order" in found["events.2.date"]

    def test_deadline_before_date(self):
        raw = base()
        raw["events"][0]["deadline"] = dt.date(2021, 1, 1)
        assert "after" in problems(raw)["events.0.deadline"]

    def test_event_fields_by_kind(self):
        raw = base()
        raw["events"][0]["kind"] = "cap"
        found = problems(raw)
        assert "events.0.level" in found  # required for a cap
        assert "not used" in found["events.0.size"]

    def test_missing_source(self):
        raw = base()
        raw["events"][0]["source"] = " "
        assert "source" in problems(raw)["events.0.source"]

    def test_unknown_policy_kind_and_parameter(self):
        raw = base()
        raw["states"]["russia"]["policy"] = {"kind": "grimm"}
        raw["states"]["us"]["policy"]["forgivness"] = 0.1
        found = problems(raw)
        assert "did you mean 'grim'" in found["states.russia.policy.kind"]
        assert "states.us.policy.forgivness" in found

    def test_cap_below_staff(self):
        raw = base()
        raw["missions"]["us_in_russia"]["cap"] = 50
        assert "at or above" in problems(raw)["missions.us_in_russia.cap"]

    def test_wrong_types_and_non_finite(self):
        raw = base()
        raw["states"]["us"]["policy"]["noise"] = float("nan")
        raw["states"]["us"]["policy"]["lag"] = [3, 1]
        raw["scenario"]["start"] = "2021-01-06"
        found = problems(raw)
        assert "nan" in found["states.us.policy.noise"]
        assert "min <= max" in found["states.us.policy.lag"]
        assert "unquoted" in found["scenario.start"]

    def test_absurd_horizon(self):
        raw = base()
        raw["scenario"]["horizon_steps"] = 10**9
        assert "scenario.horizon_steps" in problems(raw)

    def test_self_ally_and_unknown_ally(self):
        raw = base()
        raw["states"]["us"]["allies"] = ["us", "uk"]
        found = problems(raw)
        assert "own ally" in found["states.us.allies.0"]
        assert "states.us.allies.1" in found


class TestOverrides:
    def test_parse(self):
        assert parse_override("states.us.policy.ratio=1.2") == ("states.us.policy.ratio", 1.2)
        assert parse_override("states.us.policy.kind=grim") == ("states.us.policy.kind", "grim")
        assert parse_override("states.us.policy.lag=[1, 3]") == ("states.us.policy.lag", [1, 3])
        with pytest.raises(ValueError):
            parse_override("states.us.policy.ratio")
        with pytest.raises(ValueError):
            parse_override("states..ratio=1")

    def test_same_path_as_the_file(self):
        sc = scenario_from_dict(base())
        changed = sc.with_overrides(
            {
                "states.us.policy.ratio": 1.5,
                "missions.us_in_russia.diplomats": 7,
                "events.0.size": 3,
            }
        )
        assert changed.states["us"].policies["russia"]["ratio"] == 1.5
        assert changed.missions["us_in_russia"].diplomats == 7
        assert changed.events[0].size == 3
        assert sc.states["us"].policies["russia"]["ratio"] == 1.0  # the original is untouched
        assert changed.overrides["events.0.size"] == 3

    def test_setting_a_policy_kind_drops_the_old_kinds_parameters(self):
        sc = scenario_from_dict(base())
        changed = sc.with_overrides({"states.us.policy.kind": "generous"})
        assert changed.states["us"].policies["russia"] == {"kind": "generous"}
        same = sc.with_overrides({"states.us.policy.kind": "proportional"})
        assert same.states["us"].policies["russia"]["ratio"] == 1.0

    def test_bad_index_and_bad_value(self):
        sc = scenario_from_dict(base())
        with pytest.raises(ScenarioError) as info:
            sc.with_overrides({"events.5.size": 3})
        assert info.value.problems[0].path == "events.5"
        with pytest.raises(ScenarioError) as info:
            sc.with_overrides({"states.us.policy.ratio": -1})
        assert info.value.problems[0].path == "states.us.policy.ratio"

    def test_load_applies_overrides(self, tmp_path):
        import tomli_w

        path = tmp_path / "s.toml"
        path.write_text(tomli_w.dumps(base()))
        sc = load_scenario(path, {"scenario.runs": 42})
        assert sc.runs == 42
        assert sc.source == str(path)


# ------------------------------------------------------------- events in a CSV file
HEADER = "date,actor,target,action,size,deadline,source,note\n"
ROW = "2021-01-13,us,russia,expel,10,2021-02-10,[A-x],first\n"


def csv_scenario(tmp_path, text: str | bytes, **meta) -> str:
    """A scenario in tmp_path whose events_file is events/e.csv holding ``text``."""
    import tomli_w

    raw = base()
    del raw["events"]
    raw["scenario"]["events_file"] = "events/e.csv"
    raw["scenario"].update(meta)
    (tmp_path / "events").mkdir(exist_ok=True)
    data = text if isinstance(text, bytes) else text.encode()
    (tmp_path / "events" / "e.csv").write_bytes(data)
    path = tmp_path / "s.toml"
    path.write_text(tomli_w.dumps(raw))
    return str(path)


def csv_problems(path: str) -> dict[str, str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.source == path
    return {p.path: p.message for p in info.value.problems}


class TestEventsCsv:
    def test_rows_become_events(self, tmp_path):
        text = (
            "date,actor,target,action,size,deadline,source,note,level,mission\n"
            "# a comment row\n" + ROW + "\n"
            "2021-01-20,russia,us,cap,,,[A-y],,90,\n"
            "2021-01-27,us,us,close_consulate,,2021-03-01,[A-z],own,,us:russia\n"
        )
        sc = load_scenario(csv_scenario(tmp_path, text))
        kinds = [(e.kind, e.mission, e.size, e.level, e.own) for e in sc.events]
        assert kinds == [
            (Kind.EXPEL, "russia_in_us", 10, None, False),
            (Kind.CAP, "us_in_russia", None, 90, False),
            (Kind.CLOSE_CONSULATE, "us_in_russia", 1, None, True),
        ]
        assert sc.events[0].note == "first" and sc.events[1].note == ""
        assert "events_file" not in sc.raw["scenario"]

    def test_round_trip_through_the_resolved_toml(self, tmp_path):
        path = csv_scenario(tmp_path, HEADER + ROW)
        sc = load_scenario(path)
        (tmp_path / "resolved.toml").write_text(sc.to_toml())
        (tmp_path / "events" / "e.csv").unlink()  # the resolved scenario stands alone
        again = load_scenario(tmp_path / "resolved.toml")
        assert again.raw == sc.raw
        assert [vars(e) for e in again.events] == [vars(e) for e in sc.events]

    def test_results_of_a_run_load_again(self, tmp_path):
        import sim

        sc = load_scenario(csv_scenario(tmp_path, HEADER + ROW))
        ens = sim.run(sc, runs=3, seed=1)
        ens.save(tmp_path / "out")
        (tmp_path / "events" / "e.csv").unlink()
        back = sim.load_results(tmp_path / "out")
        assert [vars(e) for e in back.scenario.events] == [vars(e) for e in sc.events]

    def test_toml_events_follow_the_csv_rows_and_set_uses_the_merged_index(self, tmp_path):
        import tomli_w

        path = csv_scenario(tmp_path, HEADER + ROW)
        raw = tomllib.loads(open(path).read())
        raw["events"] = [{**base()["events"][0], "date": dt.date(2021, 2, 3), "size": 4}]
        (tmp_path / "s.toml").write_text(tomli_w.dumps(raw))
        sc = load_scenario(path, {"events.0.size": 7, "events.1.size": 5})
        assert [e.size for e in sc.events] == [7, 5]
        raw["events"][0]["date"] = dt.date(2021, 1, 7)  # before the CSV's row
        (tmp_path / "s.toml").write_text(tomli_w.dumps(raw))
        assert "date order" in csv_problems(path)["events.1.date"]

    def test_cell_problems_name_file_row_and_column(self, tmp_path):
        text = HEADER + (
            "2021-01-13,usa,russia,expell,ten,2021-02-10,[A-x],\n"  # row 2
            "2021-13-01,us,russia,expel,10,,[A-x],\n"  # row 3
            "2021-01-20,us,russia,expel,0,2021-01-19,,\n"  # row 4
            "2021-01-21,us,russia,cap,5,,[A-x],\n"  # row 5
        )
        path = csv_scenario(tmp_path, text)
        found = csv_problems(path)
        f = str(tmp_path / "events" / "e.csv")
        assert "did you mean 'us'" in found[f"{f}: row 2, column actor"]
        assert "did you mean 'expel'" in found[f"{f}: row 2, column action"]
        assert found[f"{f}: row 2, column size"] == "expected a whole number, found 'ten'"
        assert "YYYY-MM-DD" in found[f"{f}: row 3, column date"]
        assert ">= 1" in found[f"{f}: row 4, column size"]
        assert "after 2021-01-20" in found[f"{f}: row 4, column deadline"]
        assert "required" in found[f"{f}: row 4, column source"]
        assert "not used" in found[f"{f}: row 5, column size"]
        assert "required" in found[f"{f}: row 5, column level"]

    def test_mission_cell_and_extra_cells(self, tmp_path):
        text = (
            "date,actor,target,action,size,deadline,source,note,mission\n"
            "2021-01-13,us,us,close_consulate,1,,[A-x],,us-russia\n"
            "2021-01-14,us,us,close_consulate,1,,[A-x],,\n"
            "2021-01-15,us,russia,expel,1,,[A-x],,,surplus\n"
        )
        found = csv_problems(csv_scenario(tmp_path, text))
        f = str(tmp_path / "events" / "e.csv")
        assert "sender:host" in found[f"{f}: row 2, column mission"]
        assert "us:russia" in found[f"{f}: row 3, column target"]
        assert "at most 9 cells" in found[f"{f}: row 4"]

    @pytest.mark.parametrize(
        ("text", "where", "words"),
        [
            (
                "dat,actor,target,action,size,deadline,source,note\n",
                "row 1, column 1",
                "did you mean 'date'",
            ),
            (
                "date,actor,target,action,size,source\n",
                "row 1",
                "lacks the column(s) deadline, note",
            ),
            (
                "date,date,actor,target,action,size,deadline,source,note\n",
                "row 1, column 2",
                "named twice",
            ),
            ("", None, "is empty"),
            ("# only a comment\n\n", None, "is empty"),
            (b"date,actor\n\xff\xfe\n", None, "not UTF-8 text (line 2)"),
            (HEADER + '2021-01-13,"us\n', "row 2", "not valid CSV"),
        ],
    )
    def test_file_problems(self, tmp_path, text, where, words):
        found = csv_problems(csv_scenario(tmp_path, text))
        f = str(tmp_path / "events" / "e.csv")
        key = f"{f}: {where}" if where else f
        assert words in found[key], found

    def test_missing_file_directory_and_bad_value(self, tmp_path):
        path = csv_scenario(tmp_path, HEADER)
        (tmp_path / "events" / "e.csv").unlink()
        assert "no such file" in csv_problems(path)[str(tmp_path / "events" / "e.csv")]
        path = csv_scenario(tmp_path, HEADER, events_file="events")
        assert "directory" in csv_problems(path)[str(tmp_path / "events")]
        path = csv_scenario(tmp_path, HEADER, events_file=3)
        assert "path of a CSV file" in csv_problems(path)["scenario.events_file"]

    def test_cli_prints_file_row_and_column_with_exit_2(self, tmp_path, capsys):
        from sim.cli import main

        path = csv_scenario(tmp_path, HEADER + "2021-01-13,us,russia,expel,x,,[A-x],\n")
        assert main(["validate", path]) == 2
        err = capsys.readouterr().err
        assert f"  {path}: {tmp_path / 'events' / 'e.csv'}: row 2, column size: " in err
        assert "Traceback" not in err
