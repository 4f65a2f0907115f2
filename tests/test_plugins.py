"""Policy plugins, and the rule that a scenario file is data: nothing in it is run.

Custom policies come only from code the user chose to install or typed on the command
line: an entry point of an installed package (group ``escalation_sim.policies``) or
``--plugin MODULE``. The example plugin (tests/plugins/example_policy.py) is the one
shown in docs/plugins.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from conftest import ev, two_state

import sim
from sim import policies
from sim.analysis.runner import run_ensemble
from sim.cli import main
from sim.engine.missions import Kind
from sim.policies import (
    BUILTIN_POLICIES,
    POLICIES,
    Classifier,
    Initiative,
    Memory,
    Param,
    PluginError,
    Policy,
    PolicyError,
    Response,
    register_policy,
)

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "tests" / "plugins"
TEACHING = ROOT / "scenarios" / "teaching_tit_for_tat.toml"


@pytest.fixture
def clean_registry(monkeypatch):
    """Plugins registered in a test are forgotten after it."""
    monkeypatch.syspath_prepend(str(PLUGINS))
    saved = dict(POLICIES)
    loaded = list(policies._loaded_modules)
    yield
    POLICIES.clear()
    POLICIES.update(saved)
    policies._loaded_modules[:] = loaded
    sys.modules.pop("example_policy", None)


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


class TestPluginFlag:
    def test_run_with_the_example_plugin(self, capsys, clean_registry):
        code, out, err = run_cli(
            capsys,
            "run",
            TEACHING,
            "--runs",
            "200",
            "--json",
            "--quiet",
            "--plugin",
            "example_policy",
            "--set",
            "states.beta.policy.kind=two_strikes",
            "--set",
            "states.beta.policy.strikes=3",
        )
        assert code == 0, err
        assert json.loads(out)["runs"] == 200
        code, out, _ = run_cli(capsys, "policies", "--plugin", "example_policy")
        assert code == 0 and "two_strikes" in out and "strikes" in out
        code, out, err = run_cli(
            capsys,
            "validate",
            TEACHING,
            "--plugin",
            "example_policy",
            "--set",
            "states.beta.policy.kind=two_strikes",
            "--set",
            "states.beta.policy.strikes=0",
        )
        assert code == 2 and "states.beta.policy.strikes" in err

    def test_without_the_plugin_the_kind_is_unknown(self, capsys, clean_registry):
        POLICIES.pop("two_strikes", None)
        code, _, err = run_cli(
            capsys, "validate", TEACHING, "--set", "states.beta.policy.kind=two_strikes"
        )
        assert code == 2 and "states.beta.policy.kind" in err

    @pytest.mark.parametrize(
        ("module", "message"),
        [
            ("no_such_module_xyz", "cannot import"),
            ("json", "defines no policy"),
            ("../etc/passwd", "expected a module name"),
            ("", "expected a module name"),
        ],
    )
    def test_bad_plugins_are_exit_2(self, capsys, clean_registry, module, message):
        code, _, err = run_cli(capsys, "validate", TEACHING, "--plugin", module)
        assert code == 2
        assert message in err
        assert "Traceback" not in err

    def test_sweep_workers_load_the_plugin(self, capsys, clean_registry, tmp_path):
        code, out, err = run_cli(
            capsys,
            "sweep",
            TEACHING,
            "--plugin",
            "example_policy",
            "--set",
            "states.beta.policy.kind=two_strikes",
            "--param",
            "states.beta.policy.strikes=1,2",
            "--runs",
            "50",
            "--workers",
            "2",
            "--json",
            "--quiet",
        )
        assert code == 0, err
        points = json.loads(out)
        assert [p["status"] for p in points] == ["ok", "ok"]


def test_two_strikes_answers_only_every_second_act(clean_registry):
    import example_policy  # noqa: F401  (registers two_strikes)

    acts = [
        ev(1, "a", "b", "expel", size=3),
        ev(3, "a", "b", "expel", size=3),
        ev(5, "a", "b", "expel", size=3),
    ]
    for strikes, answered in ((1, 3), (2, 1), (3, 1), (4, 0)):
        sc = two_state(
            None, {"kind": "two_strikes", "strikes": strikes}, events=acts, horizon_steps=15
        )
        ens = run_ensemble(sc, runs=4)
        b = ens.state_ids.index("b")
        assert (ens.hostile_acts[b] == answered).all(), strikes
        a_in_b = ens.mission_ids.index("a_in_b")
        assert (ens.final_staff[a_in_b] == 100 - 3 * answered).all()


def test_docs_show_the_tested_example():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    code = (PLUGINS / "example_policy.py").read_text()
    body = code[code.index("from typing") :]
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert any(body.strip() in block for block in blocks)


class TestRegister:
    def test_checks_the_class(self, clean_registry):
        class NoName(Policy):
            def respond(self, obs):
                return obs.perceived, obs.perceived_kind

        class Clash(NoName):
            name = "tit_for_tat"

        class CommonParam(NoName):
            name = "common_param"
            params: ClassVar = {"noise": Param(0.0, "x")}

        class BadDefault(NoName):
            name = "bad_default"
            params: ClassVar = {"level": Param(-1.0, "x", "float", 0, 1)}

        class HidesMethod(NoName):
            name = "hides_method"
            params: ClassVar = {"respond": Param(0.0, "x")}

        class NoRespond(Policy):
            name = "no_respond"

        class BadName(NoName):
            name = "Bad Name"

        for cls, message in (
            (NoName, "name"),
            (Clash, "exists already"),
            (CommonParam, "common parameter"),
            (BadDefault, "default"),
            (HidesMethod, "hide"),
            (NoRespond, "respond"),
            (BadName, "name"),
            (dict, "subclass"),
            ("os.system", "subclass"),
        ):
            with pytest.raises(PluginError, match=message):
                register_policy(cls)

        class Good(NoName):
            name = "good_one"
            params: ClassVar = {"level": Param(0.5, "x", "prob")}

        assert register_policy(Good) is Good
        assert register_policy(Good) is Good  # twice is harmless
        assert POLICIES["good_one"] is Good

    def test_checks_the_memory_and_the_classifier(self, clean_registry):
        class Base(Policy):
            params: ClassVar = {"level": Param(0.5, "x", "prob")}

            def respond(self, obs):
                return Response(obs.perceived, obs.perceived_kind)

        def policy(name, **attributes):
            return type(name.title().replace("_", ""), (Base,), {"name": name, **attributes})

        for cls, message in (
            (policy("not_a_dict", memory=[Memory(int, 0, "x")]), "dict of name -> Memory"),
            (policy("bad_key", memory={"Seen": Memory(int, 0, "x")}), "not an id"),
            (policy("param_clash", memory={"level": Memory(int, 0, "x")}), "clashes"),
            (policy("common_clash", memory={"noise": Memory(float, 0, "x")}), "clashes"),
            (policy("hides", memory={"reset": Memory(int, 0, "x")}), "hide"),
            (policy("hides_runs", memory={"runs": Memory(int, 0, "x")}), "hide"),
            (policy("not_memory", memory={"seen": 0}), "must be a sim.policies.Memory"),
            (policy("bad_initial", memory={"seen": Memory(np.int8, "many", "x")}), "initial"),
            (policy("bad_classifier", classifier={"stochastic": False}), "Classifier"),
        ):
            with pytest.raises(PluginError, match=message):
                register_policy(cls)
            assert cls.name not in POLICIES

        good = policy("remembers", memory={"seen": Memory(np.int64, 3, "x")})
        assert register_policy(good) is good
        made = policies.make_policy({"kind": "remembers"}, runs=4)
        assert made.seen.tolist() == [3, 3, 3, 3] and made.seen.dtype == np.int64
        made.seen += 1
        made.reset()
        assert made.seen.tolist() == [3, 3, 3, 3]


def test_builtins_are_registered_by_the_decorator():
    """No hand-written list: each built-in class carries @register_policy, in order."""
    source = (ROOT / "sim" / "policies.py").read_text()
    defined = re.findall(r"\n(@register_policy\n)?class (\w+)\((?:Policy|Passive)\):", source)
    builtins = [name for _, name in defined]
    assert builtins and all(decorated for decorated, _ in defined), defined
    assert [cls.__name__ for cls in POLICIES.values()][: len(builtins)] == builtins
    assert {getattr(policies, name).name for name in builtins} == BUILTIN_POLICIES
    assert re.search(r"POLICIES(: [^=]+)? = \{[^}]", source) is None  # no literal registry


class TestInterface:
    """What respond and initiate return, as the engine reads it."""

    ACT = (ev(0, "a", "b", "expel", size=3),)

    def test_the_old_tuple_and_boolean_returns_still_work(self, clean_registry):
        @register_policy
        class OldEcho(Policy):  # respond as a (size, kind) tuple, initiate as runs
            name = "old_echo"

            def respond(self, obs):
                return obs.perceived, obs.perceived_kind

            def initiate(self, obs):
                return obs.quiet >= 4

        @register_policy
        class NewEcho(Policy):  # the same rule, returned as Response and Initiative
            name = "new_echo"

            def respond(self, obs):
                return Response(obs.perceived, obs.perceived_kind)

            def initiate(self, obs):
                return Initiative(obs.quiet >= 4, size=policies.DEFAULT_INITIATIVE_SIZE)

        acts = [ev(0, "a", "b", "expel", size=3), ev(9, "a", "b", "cap", level=90)]
        old, new = (
            sim.run(two_state(None, {"kind": kind}, events=acts, horizon_steps=16), runs=1)
            for kind in ("old_echo", "new_echo")
        )
        assert np.array_equal(old.trajectories, new.trajectories)
        columns = ["step", "actor", "instrument", "size", "cause", "fate", "staff_restored"]
        assert old.events[columns].equals(new.events[columns])
        b_moves = old.events.query("actor == 'b'")
        # both answers, each cancelled by a unilateral step once a has been quiet 4 steps
        assert {"expel", "cap", "cancel"} <= set(b_moves["instrument"])

    def test_an_initiative_carries_its_own_size(self, clean_registry):
        @register_policy
        class Restorer(Policy):
            name = "restorer"
            params: ClassVar = {"amount": Param(5, "staff per step", "int", 1, 100)}

            def respond(self, obs):
                return Response.nothing(obs.perceived.shape)

            def initiate(self, obs):
                return Initiative(np.full(obs.perceived.shape, obs.step == 3), self.amount)

        events = [ev(0, "b", "a", "expel", size=20)]  # b's own measure, then 5 back in step 3
        sc = two_state(None, {"kind": "restorer"}, events=events, horizon_steps=8)
        moves = sim.run(sc, runs=1).events.query("cause != 'event'")
        assert moves[["step", "actor", "instrument", "size"]].values.tolist() == [
            [3, "b", "restore", 5.0]
        ]
        assert moves["staff_restored"].tolist() == [5]

    def test_no_preference_is_an_expulsion(self, clean_registry):
        @register_policy
        class Unspecific(Policy):
            name = "unspecific"

            def respond(self, obs):
                return Response(obs.perceived, np.zeros(obs.perceived.shape, dtype=np.int8))

        cap = [ev(0, "a", "b", "cap", level=90)]
        sc = two_state(None, {"kind": "unspecific"}, events=cap, horizon_steps=6)
        answers = sim.run(sc, runs=1).events.query("cause == 'answer'")
        assert answers[["step", "actor", "instrument", "size"]].values.tolist() == [
            [2, "b", "expel", 10.0]
        ]
        assert policies.NO_PREFERENCE_INSTRUMENT == Kind.EXPEL

    @pytest.mark.parametrize(
        ("returned", "message"),
        [
            ((3.0, Kind.RESTORE), r"instrument codes \[9\]"),
            ((3.0, 99), r"instrument codes \[99\]"),
            ((-1.0, Kind.EXPEL), "sizes"),
            ((np.nan, Kind.EXPEL), "sizes"),
            ((3.0, 1.5), "type float"),
            ("expel", "returned str"),
        ],
    )
    def test_a_bad_answer_names_the_policy(self, clean_registry, returned, message):
        @register_policy
        class Broken(Policy):
            name = "broken"

            def respond(self, obs):
                if isinstance(returned, str):
                    return returned
                size, kind = returned
                return np.full(obs.perceived.shape, size), np.asarray(kind)

        sc = two_state(None, {"kind": "broken"}, events=list(self.ACT), horizon_steps=4)
        with pytest.raises(PolicyError, match=message) as caught:
            sim.run(sc, runs=1)
        assert "'broken'" in str(caught.value) and "Broken" in str(caught.value)

    def test_classifiers_are_declared_by_every_builtin(self):
        for name in BUILTIN_POLICIES:
            claims = POLICIES[name].classifier
            assert isinstance(claims, Classifier)
            assert None not in (claims.memory_depth, claims.stochastic, claims.initiates), name
        assert POLICIES["generous"].classifier.stochastic
        assert POLICIES["grit"].classifier.initiates


def test_entry_point_group(tmp_path):
    """An installed package's entry point registers its policy, for every command."""
    dist = tmp_path / "escalation_sim_example-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: escalation-sim-example\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(
        "[escalation_sim.policies]\ntwo_strikes = example_policy:TwoStrikes\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(PLUGINS)])}

    def sim(*args):
        return subprocess.run(
            [sys.executable, "-m", "sim", *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    listed = sim("policies")
    assert listed.returncode == 0, listed.stderr
    assert "two_strikes" in listed.stdout
    ran = sim(
        "run",
        TEACHING,
        "--runs",
        "50",
        "--json",
        "--quiet",
        "--set",
        "states.alpha.policy.kind=two_strikes",
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["runs"] == 50


# ------------------------------------------------------- no code from data
FORBIDDEN = re.compile(
    r"(?<![.\w])eval\(|(?<![.\w])exec\(|(?<![.\w])compile\(|pickle|__import__|import_module|marshal|shelve|"
    r"allow_pickle\s*=\s*True|yaml\.load|subprocess|os\.system"
)


def test_no_code_execution_in_the_package():
    """No eval, exec, pickle or import by name in sim/, but the --plugin loader's import."""
    found = []
    for path in sorted((ROOT / "sim").glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if FORBIDDEN.search(line):
                found.append(f"{path.name}:{number}: {line.strip()}")
    allowed = [f for f in found if f.startswith("policies.py:") and "import_module(name)" in f]
    assert len(allowed) == 1
    assert [f for f in found if f not in allowed] == []


@pytest.mark.parametrize(
    "kind",
    [
        "os.system",
        "__import__('os').system('touch HACKED')",
        "example_policy",
        "sim.policies:TitForTat",
        "subprocess.Popen",
        "builtins.eval",
    ],
)
def test_a_policy_kind_in_a_scenario_is_only_a_name(capsys, tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(PLUGINS))
    before = set(sys.modules)
    code, _, err = run_cli(
        capsys,
        "run",
        TEACHING,
        "--runs",
        "5",
        "--set",
        f"states.alpha.policy.kind={json.dumps(kind)}",
    )
    assert code == 2
    assert "states.alpha.policy.kind" in err and "expected one of" in err
    assert not (tmp_path / "HACKED").exists()
    assert "example_policy" not in set(sys.modules) - before


def test_scenario_strings_are_never_evaluated(capsys, tmp_path, monkeypatch):
    """Names, notes and sources that look like code stay text."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(
        capsys,
        "run",
        TEACHING,
        "--runs",
        "5",
        "--json",
        "--quiet",
        "--set",
        "scenario.name=\"__import__('os').system('touch HACKED')\"",
        "--set",
        'events.0.note="{{7*7}} ${HOME} `touch HACKED`"',
    )
    assert code == 0, err
    assert json.loads(out)["scenario"] == "__import__('os').system('touch HACKED')"
    assert not (tmp_path / "HACKED").exists()
    assert np.isfinite(json.loads(out)["outcomes"]["spiral"]["p"])
