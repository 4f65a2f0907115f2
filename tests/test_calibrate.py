"""Calibration: episodes from the record and from simulations, the ABC-SMC sampler
against closed-form posteriors, recovery of known parameters, outputs and the CLI."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import tomllib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from conftest import day, ev, two_state

from sim.analysis import calibrate as cal
from sim.cli import main
from sim.engine.missions import Kind
from sim.engine.rng import RunStreams, slot
from sim.policies import COMMON_PARAMS, POLICIES, Param, Policy, Prior, register_policy
from sim.scenario import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
REPLAY = ROOT / "scenarios" / "us_russia_2016_2023_replay.toml"
FAST = cal.SMCSettings(particles=200, generations=5, batch=2048)


def act(step: int, size: float, kind: Kind = Kind.EXPEL, offset: int = 0) -> cal.Act:
    return cal.Act(day(step, offset), step, float(size), int(kind))


# ------------------------------------------------------------------ episodes
class TestRecordEpisodes:
    def test_answer_lag_ratio_instrument_and_initiatives(self):
        provocations = [act(10, 10), act(40, 20)]
        # Answer to the first: 3 days later (lag 0), 30 staff by a cap: ratio 3, other kind.
        answers = [act(10, 30, Kind.CAP, offset=3), act(80, 5)]
        ep = cal.record_episodes(provocations, answers, window=10, step_days=7, years=2.0)
        assert ep.responded[:, 0].tolist() == [True, False]
        assert ep.lag[0, 0] == 0
        assert ep.log_ratio[0, 0] == pytest.approx(math.log(3))
        assert ep.other_instrument[0, 0] == 1.0
        assert ep.initiatives[0] == 1  # the act of step 80 answers nothing
        stats = cal.summarise(ep)[0]
        assert stats[0] == 0.5
        assert stats[4] == pytest.approx(0.5)

    def test_whole_steps_of_delay_are_the_lag(self):
        ep = cal.record_episodes([act(10, 10)], [act(10, 10, offset=23)], 10, 7, 1.0)
        assert ep.lag[0, 0] == 3  # 23 days: three whole weeks

    def test_an_earlier_act_answers_nothing_and_the_window_ends_at_the_next_act(self):
        provocations = [act(10, 10), act(12, 10)]
        answers = [act(9, 4), act(12, 10, offset=1)]
        ep = cal.record_episodes(provocations, answers, 10, 7, 1.0)
        # The answer on day 1 of step 12 follows the second act, not the first.
        assert ep.responded[:, 0].tolist() == [False, True]
        assert ep.initiatives[0] == 1

    def test_acts_of_one_date_are_one_episode(self):
        ep = cal.record_episodes([act(5, 60), act(5, 1, Kind.CLOSE_CONSULATE)], [], 10, 7, 1.0)
        assert ep.responded.shape == (1, 1)


class TestSimulatedEpisodes:
    def test_engine_lag_is_steps_after_the_next(self):
        steps, runs = 60, 3
        prov = np.zeros((steps, runs))
        kinds = np.zeros(steps, dtype=np.int8)
        prov[5] = 10
        kinds[5] = Kind.EXPEL
        answer = np.zeros((steps, runs))
        answer_kind = np.zeros((steps, runs), dtype=np.int8)
        answer[6, 0], answer_kind[6, 0] = 10, Kind.EXPEL  # lag 0, same size
        answer[9, 1], answer_kind[9, 1] = 40, Kind.CAP  # lag 3, ratio 4, another kind
        answer[40, 2], answer_kind[40, 2] = 3, Kind.EXPEL  # outside the window
        ep = cal.simulated_episodes(prov, kinds, answer, answer_kind, 10, 7)
        assert ep.responded[0].tolist() == [True, True, False]
        assert ep.lag[0, :2].tolist() == [0, 3]
        assert ep.log_ratio[0, 1] == pytest.approx(math.log(4))
        assert ep.other_instrument[0, :2].tolist() == [0, 1]
        assert ep.initiatives.tolist() == [0, 0, 1]


@pytest.fixture(scope="module")
def acts():
    return cal.record_acts(load_scenario(REPLAY), dt.date(2020, 12, 31))


class TestUSRussiaRecord:
    """The 2016-2020 record as the calibration reads it (dates from the events CSV)."""

    def test_acts_and_sizes(self, acts):
        us = acts[("us", "russia")]
        russia = acts[("russia", "us")]
        assert [a.date.isoformat() for a in us] == ["2016-12-29", "2017-08-31", "2018-03-26"]
        assert [a.date.isoformat() for a in russia] == ["2017-07-28", "2018-03-29"]
        assert us[0].size == 35
        assert us[2].size == 61  # 60 expelled + the Seattle consulate (no staff counted)
        # The cap, in staff-equivalents: the 755 it removed were all local staff
        # (A6), each weighted 0.2 in the record's [staff_weights].
        assert russia[0].size == pytest.approx(0.2 * (1210 - 455))

    def test_episodes(self, acts):
        years = 4.0
        us = cal.record_episodes(acts[("russia", "us")], acts[("us", "russia")], 10, 7, years)
        ru = cal.record_episodes(acts[("us", "russia")], acts[("russia", "us")], 10, 7, years)
        # The US answered the 2017 cap after 34 days (lag 4) by closing a consulate.
        assert us.responded[:, 0].tolist() == [True, False]
        assert us.lag[0, 0] == 4 and us.other_instrument[0, 0] == 1
        # Russia did not answer Dec 2016 or Aug 2017; it answered March 2018 in 3 days.
        assert ru.responded[:, 0].tolist() == [False, False, True]
        assert ru.lag[2, 0] == 0
        assert us.initiatives[0] == 2 and ru.initiatives[0] == 1


# ------------------------------------------------------------------ the sampler
class TestSampler:
    def test_gaussian_mean_posterior(self):
        """x̄ of n=25 draws from N(θ, 1), flat prior: the posterior is N(x̄, 1/25)."""

        def simulate(theta, ids):
            z = RunStreams(7, ids).normal(0, slot("z"))
            return (theta[:, 0] + z / 5.0)[:, None]

        result = cal.abc_smc(
            simulate,
            np.array([1.0]),
            np.array([[-5.0, 5.0]]),
            cal.SMCSettings(particles=1000, generations=10),
            seed=3,
        )
        pop = result.final
        mean = np.average(pop.theta[:, 0], weights=pop.weights)
        sd = math.sqrt(np.average((pop.theta[:, 0] - mean) ** 2, weights=pop.weights))
        assert abs(mean - 1.0) < 0.03
        # The final tolerance adds its own spread (uniform kernel): sd^2 ~ 0.04 + eps^2 / 3.
        expected = math.sqrt(0.04 + pop.tolerance**2 * 0.2**2 / 3)
        assert 0.85 * 0.2 < sd < 1.15 * expected

    def test_same_seed_same_posterior(self):
        def simulate(theta, ids):
            return (theta[:, 0] + RunStreams(1, ids).normal(0, slot("z")))[:, None]

        runs = [
            cal.abc_smc(simulate, np.array([0.5]), np.array([[-3.0, 3.0]]), FAST, seed=11)
            for _ in range(2)
        ]
        assert np.array_equal(runs[0].final.theta, runs[1].final.theta)
        assert np.array_equal(runs[0].final.weights, runs[1].final.weights)


def _beta_binomial_scenario(episodes: int = 12, spacing: int = 10):
    events = [ev(5 + spacing * i, "b", "a", "expel", size=5) for i in range(episodes)]
    return two_state(
        {"kind": "proportional"},
        {"kind": "scripted"},
        a_in_b=200,
        b_in_a=200,
        events=events,
        horizon_steps=spacing * episodes + 10,
    )


class TestBetaBinomialOracle:
    """Only the response probability free: answering k of n acts is a sufficient
    statistic, and at tolerance zero the ABC posterior is exactly Beta(1 + k, 1 + n - k)."""

    def test_posterior_is_beta(self):
        n, answered = 12, [0, 1, 2, 4, 5, 6, 8, 9]
        sc = _beta_binomial_scenario(n)
        record = {
            ("b", "a"): [act(5 + 10 * i, 5) for i in range(n)],
            ("a", "b"): [act(5 + 10 * i, 5, offset=3) for i in answered],
        }
        fixed = {"ratio": 1.0, "lag": 0, "escalate_instrument": 0.0, "provocation_rate": 0.0}
        result = cal.calibrate(
            sc,
            states=["a"],
            params=["respond_prob"],
            fixed=fixed,
            record=record,
            settings=cal.SMCSettings(particles=1000, generations=8),
            seed=5,
        )
        pop = result.fits["a"].smc.final
        assert pop.tolerance == 0.0
        k = len(answered)
        a, b = 1 + k, 1 + n - k
        mean, var = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))
        p = pop.theta[:, 0]
        got = np.average(p, weights=pop.weights)
        ess = 1.0 / np.sum(pop.weights**2)
        assert abs(got - mean) < 4 * math.sqrt(var / ess)
        got_sd = math.sqrt(np.average((p - got) ** 2, weights=pop.weights))
        assert got_sd == pytest.approx(math.sqrt(var), rel=0.15)


# ------------------------------------------------------------------ recovery
TRUTH = {
    "respond_prob": 0.7,
    "ratio": 1.5,
    "lag": 2,
    "escalate_instrument": 0.3,
    "provocation_rate": 1.0,
}


@pytest.fixture(scope="module")
def recovery():
    """The coverage study of TestRecovery, and the calibration of each of its histories.

    The study calibrates six synthetic histories (a minute of simulation); the fits it
    makes are kept, by watching ``calibrate``, so that the narrowing test reads one of
    them rather than calibrating a seventh history of the same kind.
    """
    fits = []
    real = cal.calibrate

    def watched(*args, **kwargs):
        fits.append(real(*args, **kwargs))
        return fits[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cal, "calibrate", watched)
        study = cal.coverage_study(_beta_binomial_scenario(16, 20), "a", TRUTH, 6, FAST)
    assert len(fits) == 6  # one calibration per history, in order
    return study, fits


class TestRecovery:
    """Histories of 16 acts, 20 weeks apart (so that initiatives fall outside the answer
    windows), answered with known parameters: the 90% intervals cover them.

    benchmarks/bench_calibrate.py --coverage N measures the coverage on more histories.
    """

    def test_coverage_of_90_percent_intervals(self, recovery):
        study, _ = recovery
        assert len(study) == 6 * len(cal.CALIBRATED)
        coverage = study["covered_90"].mean()
        # Nominal 0.9 over 30 intervals; 0.75 is over two and a half binomial SEs below
        # it (benchmarks/bench_calibrate.py --coverage measures 95% on 200 intervals).
        assert coverage >= 0.75, study

    def test_informative_history_narrows_the_response_probability(self, recovery):
        # The first history of the study: simulated with TRUTH (run 0), calibrated with
        # the FAST settings and seed 0 by coverage_study itself.
        _, fits = recovery
        result = fits[0]
        history = result.fits["a"].record
        assert history.responded.sum() > 0
        assert result.fits["a"].params == list(cal.CALIBRATED)
        assert result.settings == FAST and result.seed == 0
        row = result.table().set_index("parameter").loc["respond_prob"]
        assert row["q95"] - row["q05"] < 0.7  # the prior's 90% interval is 0.9 wide


# ------------------------------------------------------------------ declared priors
#: Today's priors for proportional, written out: (name, low, high, scale, meaning),
#: in the sampler's order, and the widest box each may be given.
PROPORTIONAL_PRIORS = [
    ("respond_prob", 0.0, 1.0, "linear", "probability of answering an act"),
    ("ratio", 0.2, 5.0, "log", "response size / size of the act answered"),
    ("lag", 0.0, 9.0, "floor", "steps between perceiving an act and answering"),
    (
        "escalate_instrument",
        0.0,
        1.0,
        "linear",
        "probability of answering with the next instrument up the ladder",
    ),
    ("provocation_rate", 0.0, 4.0, "linear", "own initiatives per year"),
]
PROPORTIONAL_LIMITS = {
    "respond_prob": (0.0, 1.0),
    "ratio": (1e-3, 10.0),
    "lag": (0.0, 53.0),
    "escalate_instrument": (0.0, 1.0),
    "provocation_rate": (0.0, 365.0),
}


@pytest.fixture()
def plugin_policy():
    """A policy defined here, with one parameter that declares a prior and one that does not."""

    class Damped(Policy):
        """Answer with ``share`` of the perceived size, after ``patience`` quiet steps."""

        name = "damped_test"
        params: ClassVar[dict[str, Param]] = {
            "share": Param(0.5, "share answered", "prob", prior=Prior(0.0, 1.0)),
            "patience": Param(1, "unused", "int", 0, 10),
        }

        def respond(self, obs):
            return self.share * obs.perceived, obs.perceived_kind

    register_policy(Damped)
    yield Damped
    POLICIES.pop("damped_test", None)


class TestDeclaredPriors:
    def test_proportional_priors_are_todays_boxes(self):
        got = [(b.name, b.low, b.high, b.scale, b.doc) for b in cal.CALIBRATED.values()]
        assert got == PROPORTIONAL_PRIORS
        assert list(cal.CALIBRATED) == [row[0] for row in PROPORTIONAL_PRIORS]
        assert {n: b.limits for n, b in cal.CALIBRATED.items()} == PROPORTIONAL_LIMITS
        assert cal.PRIOR_LIMITS == PROPORTIONAL_LIMITS
        # Declared where the parameters are declared.
        assert COMMON_PARAMS["respond_prob"].prior == Prior(
            0.0, 1.0, doc="probability of answering an act"
        )
        assert POLICIES["proportional"].params["ratio"].prior.scale == "log"
        known = cal.calibratable("proportional")
        assert cal.default_params(known) == list(cal.CALIBRATED)
        # The mechanisms' parameters are calibrated only when named.
        opt_in = [n for n, b in known.items() if b.opt_in]
        assert {"restraint_floor", "saturation", "choice_ban_local_hires"} <= set(opt_in)

    def test_other_policies_calibrate_their_own_parameters(self, plugin_policy):
        assert cal.default_params(cal.calibratable("generous")) == [
            "respond_prob",
            "forgiveness",
            "lag",
            "escalate_instrument",
            "provocation_rate",
        ]
        boxes = cal.calibratable("damped_test")
        assert cal.default_params(boxes) == [
            "respond_prob",
            "share",
            "lag",
            "escalate_instrument",
            "provocation_rate",
        ]
        assert boxes["share"].doc == "share answered"  # the parameter's doc by default
        assert boxes["share"].limits == (0.0, 1.0)

    def test_a_parameter_without_a_prior_is_refused(self, plugin_policy):
        sc = _beta_binomial_scenario()
        listed = "respond_prob, share, lag, escalate_instrument, provocation_rate"
        with pytest.raises(cal.CalibrationError) as err:
            cal.calibrate(sc, states=["a"], params=["patience"], policy="damped_test")
        message = str(err.value)
        assert "patience is a parameter of damped_test without a prior" in message
        assert f"calibratable parameters of damped_test: {listed}" in message
        with pytest.raises(cal.CalibrationError, match="noise is a parameter of generous"):
            cal.prior_boxes({"noise": (0.0, 1.0)}, "generous")
        with pytest.raises(cal.CalibrationError, match="ratio is not a parameter of generous"):
            cal.calibrate(sc, states=["a"], params=["ratio"], policy="generous")
        with pytest.raises(cal.CalibrationError, match="unknown policy 'nope'"):
            cal.calibrate(sc, states=["a"], policy="nope")
        with pytest.raises(cal.CalibrationError, match="never acts"):
            cal.calibrate(sc, states=["a"], policy="scripted")

    def test_declared_priors_are_checked(self):
        with pytest.raises(ValueError, match="low < high"):
            Prior(1.0, 0.0)
        with pytest.raises(ValueError, match="low > 0"):
            Prior(0.0, 1.0, "log")
        with pytest.raises(ValueError, match="whole bounds"):
            Prior(0.0, 2.5, "floor")
        with pytest.raises(ValueError, match="outside the parameter's range"):
            Param(1.0, "x", "float", 0, 10, prior=Prior(0.0, 20.0))
        with pytest.raises(ValueError, match="floor prior"):
            Param(1, "x", "int", 0, 10, prior=Prior(0.0, 5.0))
        with pytest.raises(ValueError, match="cannot have a prior"):
            Param(["expel"], "x", "ladder", prior=Prior(0.0, 1.0))
        # A whole-number parameter's widest prior ends one past its largest value.
        assert Param(1, "x", "int", 1, 10, prior=Prior(1, 4, "floor")).prior_limits() == (
            1.0,
            11.0,
        )

    def test_a_prior_on_another_policy_is_bounded_by_its_parameter(self):
        with pytest.raises(cal.CalibrationError, match=r"expected 0 <= low < high <= 1"):
            cal.prior_boxes({"forgiveness": (0.5, 1.5)}, "generous")
        boxes = cal.prior_boxes({"forgiveness": (0.2, 0.6)}, "generous")
        assert (boxes["forgiveness"].low, boxes["forgiveness"].high) == (0.2, 0.6)


GENEROUS_FIXED: dict[str, Any] = {
    "respond_prob": 1.0,
    "lag": 0,
    "escalate_instrument": 0.0,
    "provocation_rate": 0.0,
}


@pytest.fixture(scope="module")
def generous_fit():
    """A history of a ``generous`` state forgiving with probability 0.75, calibrated."""
    sc = _beta_binomial_scenario(16, 20)
    truth = {"forgiveness": 0.75}
    history = cal.synthetic_history(
        sc, "a", truth, run=3, seed=1, policy="generous", fixed=GENEROUS_FIXED
    )
    result = cal.calibrate(
        sc,
        states=["a"],
        history={"a": history},
        fixed=GENEROUS_FIXED,
        settings=FAST,
        seed=0,
        policy="generous",
    )
    return history, result


class TestOtherPolicy:
    """A ``generous`` state forgiving 75% of 16 acts: with the common mechanics fixed,
    the share of acts answered informs ``forgiveness`` (1 - the response rate)."""

    def test_posterior_covers_the_truth_and_narrows(self, generous_fit):
        history, result = generous_fit
        answered = int(history.responded.sum())
        assert 0 < answered < 16  # forgiven some acts, not all
        fit = result.fits["a"]
        assert fit.params == ["forgiveness"] and fit.policy == "generous"
        row = result.table().set_index("parameter").loc["forgiveness"]
        assert row["q05"] <= 0.75 <= row["q95"]
        assert row["q95"] - row["q05"] < 0.5  # the prior's 90% interval is 0.9 wide
        # The posterior mean is near the share of acts forgiven in this history.
        samples = fit.samples()
        mean = np.average(samples["forgiveness"], weights=samples["weight"])
        assert abs(mean - (1 - answered / 16)) < 0.12

    def test_fitted_policy_and_report_name_the_policy(self, generous_fit):
        _, result = generous_fit
        policy = cal.fitted_policy(result.fits["a"], {})
        assert policy["kind"] == "generous"
        assert policy["forgiveness"]["dist"] == "beta"
        assert policy["lag"] == 0 and policy["respond_prob"] == 1.0
        report = cal.report(result)
        assert report["policy"] == "generous"
        assert set(report["priors"]) == {"forgiveness"} | set(GENEROUS_FIXED)
        raw = tomllib.loads(cal.fitted_toml(result))
        assert raw["states"]["a"]["policy"]["kind"] == "generous"


# ------------------------------------------------------------------ outputs
def _calibrate_args(out: Path, fitted: Path) -> list[str]:
    return [
        "calibrate",
        str(REPLAY),
        "--until",
        "2020-12-31",
        "--particles",
        "100",
        "--generations",
        "3",
        "--out",
        str(out),
        "--write-scenario",
        str(fitted),
    ]


@pytest.fixture(scope="module")
def calibrate_command(tmp_path_factory):
    """``calibrate`` run once from the command line (TestCommandLine reads what it wrote
    and printed), and the calibration it made (TestFittedScenario reads its outputs' form,
    not the posterior: a small population, 100 particles and 3 generations)."""
    tmp = tmp_path_factory.mktemp("calibrate")
    out, fitted = tmp / "cal", tmp / "fitted.toml"
    made = []
    real = cal.calibrate

    def watched(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cal, "calibrate", watched)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(_calibrate_args(out, fitted))
    if len(made) == 1:
        result = made[0]
    else:  # the command no longer calls cal.calibrate: make the same calibration here
        result = cal.calibrate(
            load_scenario(REPLAY),
            until=dt.date(2020, 12, 31),
            settings=cal.SMCSettings(particles=100, generations=3),
        )
    return {
        "code": code,
        "out": out,
        "fitted": fitted,
        "stdout": stdout.getvalue(),
        "stderr": stderr.getvalue(),
        "calibration": result,
    }


@pytest.fixture(scope="module")
def us_russia_2020(calibrate_command):
    return calibrate_command["calibration"]


class TestFittedScenario:
    def test_written_scenario_loads_and_forecasts_from_the_next_day(self, us_russia_2020):
        text = cal.fitted_toml(us_russia_2020)
        raw = tomllib.loads(text)
        assert raw["scenario"]["forecast_start"] == dt.date(2021, 1, 1)
        assert all(e["date"] <= dt.date(2020, 12, 31) for e in raw["events"])
        policy = raw["states"]["russia"]["policy"]
        assert policy["kind"] == "proportional"
        assert policy["ratio"]["dist"] == "lognormal"
        assert policy["lag"]["dist"] == "choice"
        assert math.isclose(sum(policy["lag"]["weights"]), 1.0, abs_tol=1e-3)
        sc = scenario_from_dict(raw, "<fitted>")
        assert sc.forecast_start == dt.date(2021, 1, 1)

    def test_report_is_json_and_complete(self, us_russia_2020):
        checks = cal.predictive_checks(us_russia_2020, n=200)
        report = cal.report(us_russia_2020, checks)
        text = json.dumps(report)
        assert "NaN" not in text
        for sid in ("us", "russia"):
            entry = report["states"][sid]
            assert {row["parameter"] for row in entry["posterior"]} == set(cal.CALIBRATED)
            for row in entry["posterior"]:
                assert row["q05"] <= row["q25"] <= row["median"] <= row["q75"] <= row["q95"]
            assert set(entry["predictive_p_values"]) == set(cal.STAT_NAMES)

    def test_predictive_check_figure(self, us_russia_2020):
        from sim.plots import plot_posterior_predictive

        checks = cal.predictive_checks(us_russia_2020, n=200)
        fig = plot_posterior_predictive(checks, us_russia_2020.window)
        assert len(fig.axes) == 6
        assert "lag" in fig.axes[0].get_xlabel()


class TestFixAndPriors:
    def test_fixed_parameters_are_not_calibrated_and_priors_bound_the_posterior(self):
        sc = load_scenario(REPLAY)
        result = cal.calibrate(
            sc,
            until=dt.date(2020, 12, 31),
            states=["russia"],
            fixed={"lag": 0, "escalate_instrument": 0.0},
            priors={"ratio": (0.5, 2.0)},
            settings=cal.SMCSettings(particles=100, generations=3),
            seed=4,
        )
        fit = result.fits["russia"]
        assert fit.params == ["respond_prob", "ratio", "provocation_rate"]
        ratio = fit.samples()["ratio"]
        assert ratio.between(0.5, 2.0).all()
        report = cal.report(result)
        assert report["priors"]["ratio"]["low"] == 0.5
        policy = cal.fitted_policy(fit, {})
        assert policy["lag"] == 0 and policy["escalate_instrument"] == 0.0
        assert policy["ratio"]["dist"] == "lognormal"

    def test_fixing_everything_is_refused(self):
        with pytest.raises(cal.CalibrationError, match="nothing to calibrate"):
            cal.calibrate(load_scenario(REPLAY), fixed={name: 0 for name in cal.CALIBRATED})


class TestCommandLine:
    def test_calibrate_writes_results_and_scenario(self, calibrate_command, capsys):
        run = calibrate_command
        out, fitted = run["out"], run["fitted"]
        assert run["code"] == 0, run["stderr"]
        names = {p.name for p in out.iterdir()}
        assert {"posterior.csv", "posterior_summary.csv", "calibration.json"} <= names
        assert "posterior_predictive.png" in names
        assert load_scenario(fitted).forecast_start == dt.date(2021, 1, 1)
        assert "respond_prob" in run["stdout"]
        # Never overwrite silently.
        assert main(_calibrate_args(out, fitted)) == 2
        assert "exists" in capsys.readouterr().err

    @pytest.mark.parametrize(
        "extra, message",
        [
            (["--until", "2020-13-01"], "expected a date"),
            (["--until", "1990-01-01"], "before the scenario starts"),
            (["--states", "france"], "no state 'france'"),
            (["--particles", "3"], "particles >= 50"),
            (["--fix", "lag=1.5"], "whole steps"),
            (["--fix", "bogus=1"], "NAME one of"),
            (["--fix", "respond_prob=2"], "expected probability in [0, 1]"),
            (["--prior", "ratio=3:1"], "low < high"),
            (["--prior", "ratio=x"], "NAME=LOW:HIGH"),
            (["--prior", "lag=0:2.5"], "whole steps"),
        ],
    )
    def test_bad_input_exits_2(self, extra, message, capsys):
        assert main(["calibrate", str(REPLAY), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
