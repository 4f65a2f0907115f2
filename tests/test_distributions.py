"""Numeric parameters as distributions, drawn once per run (issue 7, section 1).

Goodness of fit: every distribution is drawn 20,000 times through a real ensemble (one
draw per run) at a fixed seed and compared with the stated, truncated, distribution by
a Kolmogorov-Smirnov test (chi-square for ``choice``), p > 0.001. Then: reproducibility
with distributions, per-run values reaching the policies, the ``param.*`` columns,
validation messages, and fixing a distribution with ``--set`` or in a sweep.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from conftest import ev, scenario, two_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import sim
from sim.analysis.runner import run_ensemble
from sim.analysis.sweep import SweepSpec, parse_spec, run_point, run_sweep
from sim.distributions import (
    PARAM_STEP,
    Beta,
    Choice,
    Distribution,
    LogNormal,
    Normal,
    Uniform,
    parse_distribution,
)
from sim.engine.model import EscalationModel
from sim.engine.rng import RunStreams, slot
from sim.policies import COMMON_PARAMS, Param
from sim.scenario import ScenarioError, load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
UNCERTAIN = ROOT / "scenarios" / "us_russia_2021_uncertain.toml"
N = 20_000
P_MIN = 0.001


# ------------------------------------------------------------------ helpers
def draws_scenario(runs: int = N, seed: int = 7):
    """Two states with a distribution on many parameters; one step is enough to draw."""
    return two_state(
        {
            "kind": "proportional",
            "ratio": {"dist": "lognormal", "median": 1.0, "sigma": 0.2},
            "noise": {"dist": "normal", "mean": 0.3, "sd": 0.2},
            "respond_prob": {"dist": "beta", "a": 2, "b": 5},
            "reciprocate": {"dist": "uniform", "low": 0.2, "high": 0.8},
            "lag": {"dist": "choice", "values": [0, 1, 3], "weights": [1, 2, 1]},
        },
        {
            "kind": "grim",
            "threshold": {"dist": "lognormal", "median": 5, "sigma": 0.5, "low": 2, "high": 10},
            "punishment": {"dist": "normal", "mean": 10, "sd": 3},
            "respond_prob": {"dist": "beta", "a": 2, "b": 3, "low": 0.2, "high": 0.7},
            "noise": {"dist": "choice", "values": [0.1, 0.2, 0.4]},
        },
        a_in_b={"diplomats": {"dist": "normal", "mean": 100, "sd": 10}},
        b_in_a={"diplomats": 50, "local_staff": {"dist": "uniform", "low": 0, "high": 20}},
        horizon_steps=1,
        runs=runs,
        seed=seed,
    )


@pytest.fixture(scope="module")
def drawn() -> dict[str, np.ndarray]:
    ens = run_ensemble(draws_scenario(), block_size=4096)
    assert len(ens.drawn) == 11
    return ens.drawn


def ks(values: np.ndarray, cdf) -> float:
    return stats.kstest(values, cdf).pvalue


def truncated_cdf(dist: stats.rv_continuous, low: float, high: float):
    lo, hi = dist.cdf(low), dist.cdf(high)
    return lambda x: (dist.cdf(np.clip(x, low, high)) - lo) / (hi - lo)


def bad(raw_policy: dict, key: str = "ratio", kind: str = "proportional") -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        two_state({"kind": kind, key: raw_policy})
    return info.value


def messages(err: ScenarioError) -> dict[str, str]:
    return {p.path: p.message for p in err.problems}


# ---------------------------------------------------------- distributions
class TestUniform:
    def test_fit(self, drawn):
        values = drawn["states.a.policy.reciprocate"]
        assert values.min() >= 0.2 and values.max() <= 0.8
        assert ks(values, stats.uniform(0.2, 0.6).cdf) > P_MIN

    def test_integer_parameter_is_rounded(self, drawn):
        values = drawn["missions.b_in_a.local_staff"]
        assert values.dtype == np.int64
        assert set(np.unique(values)) == set(range(21))
        # End points get half the weight of the integers inside.
        counts = np.bincount(values, minlength=21)
        expected = np.full(21, N / 20)
        expected[[0, 20]] /= 2
        assert stats.chisquare(counts, expected).pvalue > P_MIN

    def test_bounds_outside_the_parameters_range(self):
        err = bad({"dist": "uniform", "low": 0.5, "high": 11})
        assert "states.a.policy.ratio.high" in messages(err)
        assert "[0, 10]" in messages(err)["states.a.policy.ratio.high"]

    def test_low_not_below_high(self):
        err = bad({"dist": "uniform", "low": 2, "high": 1})
        assert "above low 2" in messages(err)["states.a.policy.ratio.high"]

    def test_to_dict_round_trip(self):
        dist = Uniform(0.5, 2.0)
        again, problems = parse_distribution(dist.to_dict(), Param(1.0, "", "float", 0, 10), "x")
        assert not problems
        assert (again.low, again.high) == (0.5, 2.0)


class TestNormal:
    def test_fit_truncated_at_the_parameters_range(self, drawn):
        values = drawn["states.a.policy.noise"]
        # noise is in [0, 5]: the normal(0.3, 0.2) is cut at 0 (1.5 sd below its mean).
        assert values.min() >= 0 and values.max() <= 5
        cdf = truncated_cdf(stats.norm(0.3, 0.2), 0.0, 5.0)
        assert ks(values, cdf) > P_MIN
        assert ks(values, stats.norm(0.3, 0.2).cdf) < 1e-6  # the untruncated one is wrong

    def test_integer_parameter(self, drawn):
        values = drawn["states.b.policy.punishment"]
        assert values.dtype == np.int64 and values.min() >= 1
        u = RunStreams(7, np.arange(N)).uniform(
            PARAM_STEP, slot("param", "states.b.policy.punishment")
        )
        exact = Normal(10, 3, bounds=(1, 10_000_000)).sample(u)
        np.testing.assert_array_equal(values, np.rint(exact))
        assert ks(exact, truncated_cdf(stats.norm(10, 3), 1, 10_000_000)) > P_MIN

    def test_mission_staff(self, drawn):
        values = drawn["missions.a_in_b.diplomats"]
        assert abs(values.mean() - 100) < 0.5 and abs(values.std() - 10) < 0.5

    def test_explicit_bounds(self):
        dist = Normal(1.0, 0.5, 0.8, 1.5, bounds=(0, 10))
        u = RunStreams(3, np.arange(N)).uniform(PARAM_STEP, slot("param", "t"))
        values = dist.sample(u)
        assert ks(values, truncated_cdf(stats.norm(1.0, 0.5), 0.8, 1.5)) > P_MIN
        assert dist.expected() == pytest.approx(values.mean(), abs=0.01)

    def test_sd_must_be_positive(self):
        err = bad({"dist": "normal", "mean": 1, "sd": 0})
        assert "expected a number > 0" in messages(err)["states.a.policy.ratio.sd"]

    def test_no_mass_inside_the_range(self):
        err = bad({"dist": "normal", "mean": 500, "sd": 1})
        assert "at least a millionth" in messages(err)["states.a.policy.ratio"]


class TestLogNormal:
    def test_fit(self, drawn):
        values = drawn["states.a.policy.ratio"]
        # Truncation at ratio's range [0, 10] is 11.5 sigma away: a plain lognormal.
        assert ks(values, stats.lognorm(s=0.2, scale=1.0).cdf) > P_MIN

    def test_fit_truncated_on_the_log_scale(self, drawn):
        values = drawn["states.b.policy.threshold"]
        assert values.min() >= 2 and values.max() <= 10
        assert ks(values, truncated_cdf(stats.lognorm(s=0.5, scale=5), 2, 10)) > P_MIN
        dist = LogNormal(5, 0.5, 2, 10)
        assert dist.expected() == pytest.approx(values.mean(), rel=0.01)

    def test_error_names_the_key(self, tmp_path):
        raw = tomllib.loads(UNCERTAIN.read_text())
        raw["states"]["russia"]["policy"]["ratio"]["sigma"] = -0.1
        path = tmp_path / "x.toml"
        path.write_text(tomli_w.dumps(raw))
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        text = str(info.value)
        assert f"{path}: states.russia.policy.ratio.sigma: expected a number > 0" in text

    def test_median_must_be_positive(self):
        err = bad({"dist": "lognormal", "median": 0, "sigma": 0.2})
        assert "states.a.policy.ratio.median" in messages(err)


class TestBeta:
    def test_fit(self, drawn):
        values = drawn["states.a.policy.respond_prob"]
        assert ks(values, stats.beta(2, 5).cdf) > P_MIN

    def test_fit_scaled(self, drawn):
        values = drawn["states.b.policy.respond_prob"]
        assert values.min() >= 0.2 and values.max() <= 0.7
        assert ks(values, stats.beta(2, 3, loc=0.2, scale=0.5).cdf) > P_MIN
        assert Beta(2, 3, 0.2, 0.7).expected() == pytest.approx(0.4)

    @pytest.mark.parametrize(("a", "b"), [(1.0173, 0.8642), (0.8642, 1.0173), (0.1, 3), (30, 2)])
    def test_extreme_uniforms(self, a, b):
        # scipy's betaincinv gives NaN at u = 2^-54 for the first pair: the tail term is used.
        u = np.array([2.0**-54, 1e-10, 0.5, 1 - 1e-10, 1 - 2.0**-53])
        x = Beta(a, b).sample(u)
        assert np.all(np.isfinite(x)) and np.all(np.diff(x) > 0)
        assert 0 < x[0] and x[-1] <= 1
        np.testing.assert_allclose(stats.beta(a, b).cdf(x[:3]), u[:3], rtol=1e-6)

    def test_default_bounds_outside_the_range(self):
        err = bad({"dist": "beta", "a": 2, "b": 2}, "quiet_steps", "grit")
        assert "states.a.policy.quiet_steps.low" in messages(err)

    def test_shape_must_be_positive(self):
        err = bad({"dist": "beta", "a": -1, "b": 2}, "respond_prob")
        assert "states.a.policy.respond_prob.a" in messages(err)


class TestChoice:
    def test_weights(self, drawn):
        values = drawn["states.a.policy.lag"]
        assert values.dtype == np.int64
        counts = [np.sum(values == v) for v in (0, 1, 3)]
        assert sum(counts) == N
        assert stats.chisquare(counts, [N / 4, N / 2, N / 4]).pvalue > P_MIN

    def test_equal_weights(self, drawn):
        values = drawn["states.b.policy.noise"]
        counts = [np.sum(values == v) for v in (0.1, 0.2, 0.4)]
        assert sum(counts) == N
        assert stats.chisquare(counts).pvalue > P_MIN

    def test_zero_weight_is_never_drawn(self):
        dist = Choice((1.0, 2.0, 3.0, 4.0), (0.1, 0.2, 0.7, 0.0))
        assert dist.support() == (1.0, 3.0)
        u = RunStreams(0, np.arange(N)).uniform(PARAM_STEP, 1)
        assert 4.0 not in dist.sample(u)

    @pytest.mark.parametrize(
        ("table", "where", "words"),
        [
            ({"values": [1, 2], "weights": [1]}, "ratio.weights", "a list of 2 weights"),
            ({"values": [1, 2], "weights": [1, -1]}, "ratio.weights.1", ">= 0"),
            ({"values": [1, 2], "weights": [0, 0]}, "ratio.weights", "sum above 0"),
            ({"values": []}, "ratio.values", "a list of 1 to"),
            ({"values": [1, 20]}, "ratio.values.1", "in [0, 10]"),
            ({"values": [1, "x"]}, "ratio.values.1", "a number"),
        ],
    )
    def test_errors(self, table, where, words):
        err = bad({"dist": "choice", **table})
        assert words in messages(err)[f"states.a.policy.{where}"]

    def test_integer_parameter_needs_integers(self):
        err = bad({"dist": "choice", "values": [1, 2.5]}, "lag")
        assert "an integer" in messages(err)["states.a.policy.lag.values.1"]


# ------------------------------------------------------------- validation
class TestValidation:
    def test_unknown_distribution_with_a_hint(self):
        err = bad({"dist": "lognormall", "median": 1, "sigma": 0.2})
        assert "did you mean 'lognormal'" in messages(err)["states.a.policy.ratio.dist"]

    def test_unknown_and_missing_keys(self):
        err = bad({"dist": "lognormal", "median": 1, "sigm": 0.2})
        found = messages(err)
        assert "did you mean 'sigma'" in found["states.a.policy.ratio.sigm"]
        assert "required" in found["states.a.policy.ratio.sigma"]

    def test_non_numeric(self):
        err = bad({"dist": "normal", "mean": "1", "sd": True})
        found = messages(err)
        assert "expected a number" in found["states.a.policy.ratio.mean"]
        assert "expected a number" in found["states.a.policy.ratio.sd"]

    def test_a_table_without_dist(self):
        err = bad({"median": 1})
        assert "distribution table" in messages(err)["states.a.policy.ratio"]

    @pytest.mark.parametrize("key", ["notice", "provocation_size", "conciliation_size", "ladder"])
    def test_scalar_only(self, key):
        err = bad({"dist": "uniform", "low": 1, "high": 3}, key)
        assert "cannot be a distribution" in messages(err)[f"states.a.policy.{key}"]

    def test_not_in_scenario_or_events(self):
        with pytest.raises(ScenarioError) as info:
            two_state(
                {"kind": "tit_for_tat"},
                events=[ev(1, "b", "a", "expel", size={"dist": "uniform", "low": 1, "high": 3})],
            )
        assert "events.0.size" in messages(info.value)

    def test_a_toward_distribution_is_reported_at_its_path(self):
        with pytest.raises(ScenarioError) as info:
            two_state(
                {"kind": "proportional"},
                toward_a={"b": {"ratio": {"dist": "uniform", "low": 1}}},
            )
        assert "states.a.toward.b.ratio.high" in messages(info.value)

    def test_reported_once_for_every_counterpart(self):
        states = {
            s: {"policy": {"kind": "proportional", "ratio": {"dist": "normal", "mean": 1}}}
            for s in "abc"
        }
        missions = {
            f"{x}_in_{y}": {"sender": x, "host": y, "diplomats": 5}
            for x in "ab"
            for y in "bc"
            if x != y
        }
        with pytest.raises(ScenarioError) as info:
            scenario(states, missions)
        paths = [p.path for p in info.value.problems]
        assert paths.count("states.a.policy.ratio.sd") == 1

    def test_cap_below_the_largest_draw(self):
        with pytest.raises(ScenarioError) as info:
            two_state(a_in_b={"diplomats": {"dist": "normal", "mean": 100, "sd": 10}, "cap": 150})
        assert "largest total staff a run can draw" in messages(info.value)["missions.a_in_b.cap"]
        sc = two_state(
            a_in_b={"diplomats": {"dist": "normal", "mean": 100, "sd": 10, "high": 150}, "cap": 150}
        )
        assert sc.missions["a_in_b"].total == 150

    def test_cli_validate_exits_2_without_traceback(self, tmp_path):
        raw = tomllib.loads(UNCERTAIN.read_text())
        raw["states"]["us"]["policy"]["respond_prob"] = {"dist": "betta", "a": 1, "b": 1}
        path = tmp_path / "bad.toml"
        path.write_text(tomli_w.dumps(raw))
        proc = subprocess.run(
            [sys.executable, "-m", "sim", "validate", str(path)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert "states.us.policy.respond_prob.dist" in proc.stderr
        assert "did you mean 'beta'" in proc.stderr

    def test_pickle_and_toml_round_trip(self):
        sc = draws_scenario(runs=10)
        again = pickle.loads(pickle.dumps(sc))
        assert again.states["a"].policies["b"] == sc.states["a"].policies["b"]
        reread = scenario_from_dict(tomllib.loads(sc.to_toml()), "<again>")
        for sid in "ab":
            other = "b" if sid == "a" else "a"
            assert reread.states[sid].policies[other] == sc.states[sid].policies[other]
        assert reread.missions["a_in_b"].diplomats == sc.missions["a_in_b"].diplomats
        dist = sc.states["a"].policies["b"]["ratio"]
        assert isinstance(dist, Distribution)
        assert dist.to_dict() == {"dist": "lognormal", "median": 1.0, "sigma": 0.2}
        assert dist.path == "states.a.policy.ratio"


# --------------------------------------------------------------- fuzzing
numbers = st.one_of(
    st.integers(-5, 60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 1e-300, 1e300, 2**63, -0.0]),
)
tables = st.fixed_dictionaries(
    {"dist": st.sampled_from(["uniform", "normal", "lognormal", "beta", "choice", "gamma", 1])},
    optional={
        k: st.one_of(numbers, st.lists(numbers, max_size=4), st.text(max_size=3))
        for k in ("low", "high", "mean", "sd", "median", "sigma", "a", "b", "values", "weights")
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=tables,
    key=st.sampled_from(["ratio", "noise", "respond_prob", "lag", "notice", "provocation_rate"]),
)
def test_any_table_is_a_scenario_or_a_scenario_error(table, key):
    try:
        sc = two_state({"kind": "proportional", key: table}, runs=3, horizon_steps=3)
    except ScenarioError as exc:
        assert all(p.path.startswith(f"states.a.policy.{key}") for p in exc.problems)
        return
    ens = run_ensemble(sc)
    values = ens.drawn[f"states.a.policy.{key}"]
    assert np.all(np.isfinite(values))
    param = {**COMMON_PARAMS, "ratio": Param(1.0, "", "float", 0, 10)}[key]
    low = 0 if param.kind == "prob" else param.low
    high = 1 if param.kind == "prob" else param.high
    assert np.all((values >= low) & (values <= high))


# ----------------------------------------------------------------- engine
class TestEngine:
    def test_runs_do_not_depend_on_the_ensemble(self):
        sc = draws_scenario(runs=1000)
        sc = sc.with_overrides(
            {"scenario.horizon_steps": 40, "events": [ev(2, "b", "a", "expel", size=6)]}
        )
        small = run_ensemble(sc, runs=100, block_size=7, keep_trajectories=True)
        large = run_ensemble(sc, runs=1000, block_size=64, keep_trajectories=True)
        a = small.runs_table()
        b = large.runs_table().iloc[:100]
        assert list(a.columns) == list(b.columns)
        assert a.equals(b.reset_index(drop=True))
        np.testing.assert_array_equal(small.trajectories, large.trajectories[..., :100])
        for path, values in small.drawn.items():
            np.testing.assert_array_equal(values, large.drawn[path][:100])
        assert (large.hostile_acts > 0).any()  # the exchange did happen

    def test_draws_depend_on_seed_and_path_only(self):
        sc = draws_scenario(runs=50)
        one = EscalationModel(sc, runs=np.arange(50)).drawn
        other = EscalationModel(sc, runs=np.arange(20, 30)).drawn
        for path in one:
            np.testing.assert_array_equal(one[path][20:30], other[path])
        reseeded = EscalationModel(sc, runs=np.arange(50), seed=8).drawn
        assert not np.array_equal(one["states.a.policy.ratio"], reseeded["states.a.policy.ratio"])

    def test_ratio_per_run_sets_the_response(self):
        sc = two_state(
            {"kind": "proportional", "ratio": {"dist": "choice", "values": [0, 1, 2.5]}},
            events=[ev(1, "b", "a", "expel", size=10)],
            runs=300,
        )
        ens = run_ensemble(sc, block_size=64)
        ratio = ens.drawn["states.a.policy.ratio"]
        assert set(np.unique(ratio)) == {0.0, 1.0, 2.5}
        b_in_a = ens.mission_ids.index("b_in_a")
        np.testing.assert_array_equal(ens.final_staff[b_in_a], 100 - np.floor(10 * ratio))
        a = ens.state_ids.index("a")
        assert np.all(ens.hostile_acts[a][ratio == 0] == 0)
        assert np.all(ens.hostile_acts[a][ratio > 0] == 1)

    def test_a_policy_path_is_one_draw_for_every_counterpart(self):
        pol = {"kind": "proportional", "ratio": {"dist": "uniform", "low": 0, "high": 2}}
        states = {"a": {"policy": pol}, "b": {}, "c": {}}
        states["a"]["toward"] = {"c": {"noise": {"dist": "uniform", "low": 0, "high": 1}}}
        missions = {
            f"{x}_in_{y}": {"sender": x, "host": y, "diplomats": 5}
            for x in "abc"
            for y in "abc"
            if x != y
        }
        model = EscalationModel(scenario(states, missions, runs=40))
        to_b = model.state_agents["a"].relations["b"].policy
        to_c = model.state_agents["a"].relations["c"].policy
        np.testing.assert_array_equal(to_b.ratio, to_c.ratio)
        assert to_b.noise == 0.0 and to_c.noise.shape == (40,)
        assert set(model.drawn) == {"states.a.policy.ratio", "states.a.toward.c.noise"}

    def test_lag_per_run(self):
        sc = two_state(
            {"kind": "tit_for_tat", "lag": {"dist": "choice", "values": [1, 4]}, "notice": 1},
            events=[ev(1, "b", "a", "expel", size=3)],
            runs=200,
        )
        model = EscalationModel(sc, keep_trajectories=True)
        model.run()
        lag = model.drawn["states.a.policy.lag"]
        assert model.state_agents["a"].relations["b"].depth == 5
        # Seen in step 2, announced lag steps later, in effect one step after that.
        b_in_a = model.mission_ids.index("b_in_a")
        first_cut = np.argmax(model.trajectories[:, b_in_a, :] < 100, axis=0)
        np.testing.assert_array_equal(first_cut, 2 + lag + 1)

    def test_mission_staff_per_run(self):
        sc = two_state(
            a_in_b={"diplomats": {"dist": "choice", "values": [10, 20]}, "local_staff": 5},
            runs=50,
        )
        ens = run_ensemble(sc)
        np.testing.assert_array_equal(
            ens.final_staff[0], ens.drawn["missions.a_in_b.diplomats"] + 5
        )

    def test_param_values_set_exactly(self):
        sc = two_state(
            {"kind": "proportional", "ratio": {"dist": "uniform", "low": 0, "high": 2}},
            events=[ev(1, "b", "a", "expel", size=10)],
            toward_a={"b": {"respond_prob": 0.5}},
            runs=4,
        )
        given = {
            "states.a.policy.ratio": np.array([0.0, 0.5, 1.0, 2.0]),
            "states.a.toward.b.respond_prob": np.ones(4),
            "missions.a_in_b.diplomats": np.array([17, 18, 19, 20]),
        }
        model = EscalationModel(sc, param_values=given)
        result = model.run()
        for path, values in given.items():
            np.testing.assert_array_equal(result.drawn[path], values)
        assert list(result.final_staff[1]) == [100, 95, 90, 80]
        assert list(result.final_staff[0]) == [7, 8, 9, 10]  # 10 expelled by b

    def test_param_values_toward_wins(self):
        sc = two_state({"kind": "proportional"}, runs=3)
        model = EscalationModel(
            sc,
            param_values={
                "states.a.policy.ratio": np.full(3, 2.0),
                "states.a.toward.b.ratio": np.full(3, 0.5),
            },
        )
        np.testing.assert_array_equal(model.state_agents["a"].relations["b"].policy.ratio, 0.5)
        assert list(model.drawn) == ["states.a.toward.b.ratio"]

    @pytest.mark.parametrize(
        ("given", "words"),
        [
            ({"states.a.policy.ratoi": np.ones(3)}, "no such parameter"),
            ({"states.a.policy.ratio": np.ones(2)}, "one value per run"),
            ({"states.a.policy.ratio": np.full(3, 11.0)}, "in [0, 10]"),
            ({"states.a.policy.notice": np.full(3, 2)}, "cannot take per-run values"),
            ({"states.a.policy.lag": np.full(3, 1.5)}, "whole numbers"),
        ],
    )
    def test_param_values_errors(self, given, words):
        sc = two_state({"kind": "proportional"}, runs=3)
        with pytest.raises(ValueError, match="param_values") as info:
            EscalationModel(sc, param_values=given)
        assert words in str(info.value)

    def test_scalar_scenarios_draw_nothing(self):
        ens = run_ensemble(two_state({"kind": "proportional"}, runs=5))
        assert ens.drawn == {}
        assert not any(c.startswith("param.") for c in ens.runs_table().columns)
        assert "drawn" not in ens.summary()


# ----------------------------------------------------- results and sweeps
class TestResults:
    def test_param_columns_saved_and_loaded(self, tmp_path):
        result = sim.run(UNCERTAIN, runs=300, seed=1)
        runs = result.runs
        names = [c for c in runs.columns if c.startswith("param.")]
        assert sorted(names) == [
            "param.states.russia.policy.ratio",
            "param.states.russia.policy.respond_prob",
            "param.states.us.policy.respond_prob",
        ]
        ratio = runs["param.states.russia.policy.ratio"]
        assert ratio.between(1.0, 2.0).all() and ratio.nunique() == 300
        assert set(result.summary()["drawn"]) == {n[len("param.") :] for n in names}
        result.save(tmp_path / "out")
        again = sim.load_results(tmp_path / "out")
        assert again.runs[names].equals(runs[names])
        assert again.summary()["outcomes"] == result.summary()["outcomes"]

    def test_shipped_example_validates_and_runs(self):
        sc = load_scenario(UNCERTAIN)
        assert isinstance(sc.states["russia"].policies["us"]["ratio"], LogNormal)
        ens = run_ensemble(sc, runs=500)
        spiral = ens.outcome == 1
        assert 0 < spiral.mean() < 1
        # The draws say something about the spirals: Russia answers more often in them.
        rp = ens.drawn["states.russia.policy.respond_prob"]
        assert rp[spiral].mean() > rp[~spiral].mean()

    def test_validate_and_run_list_the_draws(self, capsys):
        from sim.cli import main

        assert main(["validate", str(UNCERTAIN)]) == 0
        out = capsys.readouterr().out
        assert "drawn per run: 3" in out
        assert "states.russia.policy.ratio ~ lognormal(median 1.2" in out
        assert main(["run", str(UNCERTAIN), "--runs", "200", "--quiet"]) == 0
        assert main(["run", str(UNCERTAIN), "--runs", "200"]) == 0
        table = capsys.readouterr().out
        assert "drawn per run" in table and "states.us.policy.respond_prob" in table


class TestFixing:
    def test_set_a_number_replaces_the_distribution(self):
        sc = load_scenario(UNCERTAIN, {"states.russia.policy.ratio": 1.3})
        assert sc.states["russia"].policies["us"]["ratio"] == 1.3
        ens = run_ensemble(sc, runs=20)
        assert "states.russia.policy.ratio" not in ens.drawn
        assert "states.us.policy.respond_prob" in ens.drawn

    def test_set_a_key_of_the_distribution(self):
        sc = load_scenario(UNCERTAIN).with_overrides({"states.russia.policy.ratio.median": 1.3})
        dist = sc.states["russia"].policies["us"]["ratio"]
        assert isinstance(dist, LogNormal) and dist.median == 1.3
        assert dist.low == 1.0 and dist.sigma == 0.15

    def test_set_into_a_number_is_refused(self):
        with pytest.raises(ScenarioError) as info:
            load_scenario(UNCERTAIN, {"states.us.policy.ratio.median": 1.3})
        assert "states.us.policy.ratio" in str(info.value)

    def test_cli_set(self, tmp_path):
        proc = subprocess.run(
            [
                sys.executable, "-m", "sim", "run", str(UNCERTAIN), "--runs", "50", "--json",
                "--set", "states.us.policy.respond_prob=0.4",
                "--set", "states.russia.policy.ratio.sigma=0.05",
            ],
            capture_output=True, text=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert '"states.us.policy.respond_prob"' not in proc.stdout.split('"drawn"')[1]

    def test_sweep_fixes_or_moves_a_distribution(self):
        sc = load_scenario(UNCERTAIN)
        spec = SweepSpec(
            [
                parse_spec("states.russia.policy.ratio", [1.0, 1.5]),
                parse_spec("states.us.policy.respond_prob.a", [1.0, 8.0]),
            ],
            runs=200,
            seed=5,
        )
        result = run_sweep(sc, spec)
        table = result.points
        assert list(table["status"]) == ["ok"] * 4
        # A higher Russian ratio spirals more; a US more likely to answer too.
        p = table.set_index(["states.russia.policy.ratio", "states.us.policy.respond_prob.a"])[
            "p_spiral"
        ]
        assert p[1.5, 8.0] > p[1.0, 1.0]

    def test_run_point_with_a_bad_override_fails_cleanly(self):
        sc = load_scenario(UNCERTAIN)
        row = run_point(sc.raw, sc.source, {"states.russia.policy.ratio.sigma": -1}, 10, 0)
        assert row["status"] == "failed"
        assert "states.russia.policy.ratio.sigma" in row["error"]


def test_scenario_distributions_lists_every_path():
    from sim.analysis import resources
    from sim.distributions import scenario_distributions

    sc = draws_scenario(runs=10)
    found = scenario_distributions(sc)
    assert set(found) == set(EscalationModel(sc).drawn)
    plain = two_state({"kind": "proportional"})
    assert scenario_distributions(plain) == {}
    assert resources.per_run_result_bytes(sc, True) > resources.per_run_result_bytes(plain, True)
