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

from sim import policies
from sim.cli import main
from sim.policies import POLICIES, Param, PluginError, Policy, register_policy
from sim.runner import run_ensemble

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
