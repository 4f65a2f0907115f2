"""One suite for every registered policy, plugins included (after Axelrod's ``TestPlayer``).

Every class in :data:`sim.policies.POLICIES` (the built-ins, and the example plugin of
tests/plugins, imported here) is checked for what the engine relies on: its parameters'
defaults pass their checks and the bounds are enforced; its declared memory has the
block's shape and is set back by ``reset`` (and by the engine, for each block); its
answers are finite non-negative sizes in hostile instruments; the claims of its
``classifier`` hold; the same seed gives the same runs; and run r of a block equals run
r alone. A new policy is tested by being registered: nothing here names one.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import ev, two_state
from test_invariants import modest_values

from sim.engine import instruments
from sim.engine.missions import Kind
from sim.engine.model import EscalationModel
from sim.engine.rng import RunStreams, slot
from sim.policies import (
    POLICIES,
    Initiative,
    Observation,
    Policy,
    Response,
    make_policy,
)

PLUGINS = Path(__file__).resolve().parent / "plugins"


#: Plugin modules in tests/plugins whose policies the suite covers too.
PLUGIN_MODULES = ("example_policy",)


def _registry_with_plugins() -> list[type[Policy]]:
    """Every registered policy class, and those of :data:`PLUGIN_MODULES`.

    The plugins are imported to collect their classes, then the registry,
    ``sys.modules`` and ``sys.path`` are left as they were: tests/test_plugins.py
    imports the example afresh, and a second class of the same name would be refused
    as a clash.
    """
    had_path = str(PLUGINS) in sys.path
    had_modules = {name for name in PLUGIN_MODULES if name in sys.modules}
    before = dict(POLICIES)
    if not had_path:
        sys.path.insert(0, str(PLUGINS))
    try:
        for name in PLUGIN_MODULES:
            importlib.import_module(name)
        classes = [*POLICIES.values()]
    finally:
        POLICIES.clear()
        POLICIES.update(before)
        for name in set(PLUGIN_MODULES) - had_modules:
            sys.modules.pop(name, None)
        if not had_path:
            sys.path.remove(str(PLUGINS))
    return classes


REGISTERED = _registry_with_plugins()
RUNS = 6
HOSTILE_CODES = [i.code for i in instruments.hostile()]


@pytest.fixture(params=REGISTERED, ids=[cls.name for cls in REGISTERED])
def policy_cls(request) -> Iterator[type[Policy]]:
    """The policy class under test, registered under its name for the test's duration."""
    cls = request.param
    saved = POLICIES.get(cls.name)
    POLICIES[cls.name] = cls
    yield cls
    if saved is None:
        POLICIES.pop(cls.name, None)
    else:
        POLICIES[cls.name] = saved


def test_the_suite_covers_builtins_and_the_example_plugin():
    names = {cls.name for cls in REGISTERED}
    assert {"tit_for_tat", "grit", "scripted", "two_strikes"} <= names
    assert len(names) == len(REGISTERED)


# ------------------------------------------------------------- direct calls
def history(
    seed: int, steps: int, runs: int = RUNS, perceived: np.ndarray | None = None
) -> list[Observation]:
    """A random but consistent sequence of observations: grievance accumulates, the quiet
    count restarts on a hostile act, and the even runs have a calm middle third (long
    enough for GRIT-like initiatives). The policy's draws come from their own slots.

    ``perceived``: the perceived sizes to use instead, shape ``(steps, runs)``.
    """
    rng = np.random.default_rng(seed)
    streams = RunStreams(seed, np.arange(runs))
    if perceived is None:
        perceived = rng.choice([0.0, 0.0, 1.0, 3.0, 12.0], (steps, runs))
        calm_third = slice(steps // 3, 2 * steps // 3)
        perceived[calm_third, ::2] = 0.0
    kinds = np.where(perceived > 0, rng.choice(HOSTILE_CODES, (steps, runs)), 0).astype(np.int8)
    grievance = np.zeros(runs)
    quiet = np.zeros(runs, dtype=np.int64)
    since = np.full(runs, 10**6, dtype=np.int64)
    out = []
    for step in range(steps):
        grievance = grievance + perceived[step]
        quiet = np.where(perceived[step] > 0, 0, quiet + 1)
        since = np.where(rng.random(runs) < 0.03, 0, since + 1)
        out.append(
            Observation(
                step=step,
                perceived=perceived[step],
                perceived_kind=kinds[step],
                grievance=grievance,
                quiet=quiet,
                since_conciliation=since,
                own_total=rng.integers(0, 80, runs).astype(np.int32),
                their_total=rng.integers(0, 80, runs).astype(np.int32),
                draw=lambda name, s=step: streams.uniform(s, slot("policy", name, "suite")),
            )
        )
    return out


def play(policy: Policy, observations: list[Observation]) -> list[tuple[Response, Initiative]]:
    """Respond and initiate in every step, as the engine does (respond first)."""
    return [(policy.checked_response(o), policy.checked_initiative(o)) for o in observations]


def parameter_sets(cls: type[Policy]) -> list[dict]:
    """The defaults, then each own parameter at each of a few values in its range."""
    sets = [{"kind": cls.name}]
    for key, param in cls.params.items():
        sets += [{"kind": cls.name, key: value} for value in modest_values(param)]
    return sets


def test_parameter_defaults_pass_and_bounds_are_enforced(policy_cls):
    for key, param in policy_cls.all_params().items():
        assert param.check(param.default)[1] is None, key
        if param.kind in ("float", "int", "prob"):
            low = 0.0 if param.kind == "prob" else param.low
            high = 1.0 if param.kind == "prob" else param.high
            step = 1 if param.kind == "int" else 0.5
            if low is not None:
                assert param.check(low)[1] is None, key
                assert param.check(low - step)[1] is not None, key
            if high is not None:
                assert param.check(high)[1] is None, key
                assert param.check(high + step)[1] is not None, key
        elif param.kind == "range":
            low, high = int(param.low), int(param.high)
            assert param.check([low, high])[1] is None, key
            assert param.check([low - 1, low])[1] is not None, key
            assert param.check([high, high + 1])[1] is not None, key
            assert param.check([high, low])[1] is not None or low == high, key
        elif param.kind == "ladder":
            assert param.check(["expel", "expel"])[1] is not None, key
            assert param.check(["not_an_instrument"])[1] is not None, key
            assert param.check([])[1] is not None, key
        for candidate in modest_values(param):
            assert param.check(candidate)[1] is None, (key, candidate)


def test_declared_memory_has_the_blocks_shape_and_is_reset(policy_cls):
    policy = make_policy({"kind": policy_cls.name}, runs=RUNS)
    for key, spec in policy_cls.memory.items():
        value = getattr(policy, key)
        assert value.shape == (RUNS,) and value.dtype == np.dtype(spec.dtype), key
        assert (value == spec.initial).all(), key
    play(policy, history(1, 20))
    for key in policy_cls.memory:  # whatever the history left, and a scribble on top
        getattr(policy, key)[:] = getattr(policy, key) + 1
    policy.reset()
    for key, spec in policy_cls.memory.items():
        value = getattr(policy, key)
        assert value.shape == (RUNS,) and (value == spec.initial).all(), key
    # after a reset the policy answers as a fresh one does
    fresh = make_policy({"kind": policy_cls.name}, runs=RUNS)
    for (got, got_i), (want, want_i) in zip(
        play(policy, history(2, 15)), play(fresh, history(2, 15)), strict=True
    ):
        assert np.array_equal(got.size, want.size)
        assert np.array_equal(got.instrument, want.instrument)
        assert np.array_equal(got_i.acting, want_i.acting)


def test_the_engine_gives_each_relation_fresh_memory(policy_cls):
    sc = scenario_for(policy_cls.name)
    model = EscalationModel(sc, runs=np.arange(3))
    policies = [rel.policy for rel in model.relations if type(rel.policy) is policy_cls]
    assert policies, "the policy under test is in the scenario"
    for policy in policies:
        assert policy.runs == 3
        for key, spec in policy_cls.memory.items():
            assert (
                getattr(policy, key).shape == (3,) and (getattr(policy, key) == spec.initial).all()
            )
    for key in policy_cls.memory:
        arrays = [getattr(p, key) for p in policies]
        for i, first in enumerate(arrays):
            assert not any(np.shares_memory(first, other) for other in arrays[i + 1 :]), key


def test_answers_are_finite_sizes_in_hostile_instruments(policy_cls):
    for values in parameter_sets(policy_cls):
        policy = make_policy(values, runs=RUNS)
        for response, initiative in play(policy, history(3, 25)):
            assert response.size.shape == (RUNS,) and response.instrument.shape == (RUNS,)
            assert np.isfinite(response.size).all() and (response.size >= 0).all(), values
            allowed = np.isin(response.instrument, [int(Kind.NONE), *HOSTILE_CODES])
            assert allowed.all(), values
            assert initiative.acting.dtype == bool and initiative.acting.shape == (RUNS,)
            sizes = initiative.size[initiative.acting]
            assert np.isfinite(sizes).all() and (sizes > 0).all(), values
        raw = policy.respond(history(4, 1)[0])  # the documented return value
        assert isinstance(raw, Response) or (isinstance(raw, tuple) and len(raw) == 2)


def test_classifier_claims_hold(policy_cls):
    claims = policy_cls.classifier
    if claims.stochastic is False:  # other random numbers for its draws: the same answers
        a = history(5, 20)
        b = [
            Observation(**{**vars(o), "draw": lambda name, s=o.step: np.full(RUNS, 0.999 - s / 40)})
            for o in a
        ]
        for (ra, ia), (rb, ib) in zip(
            play(make_policy({"kind": policy_cls.name}, RUNS), a),
            play(make_policy({"kind": policy_cls.name}, RUNS), b),
            strict=True,
        ):
            assert np.array_equal(ra.size, rb.size) and np.array_equal(ia.acting, ib.acting)
    if claims.initiates is False:
        policy = make_policy({"kind": policy_cls.name}, RUNS)
        assert not any(i.acting.any() for _, i in play(policy, history(6, 30)))
    depth = claims.memory_depth
    if depth is not None and math.isfinite(depth):
        # A busy past and a calm one that agree on the last ``depth`` steps (sizes,
        # instruments, missions, draws; the grievance and quiet count follow each past):
        # the same answer.
        depth = int(depth)
        busy = history(7, 30)
        sizes = np.array([o.perceived for o in busy])
        sizes[: len(busy) - depth] = 0.0
        calm = history(8, 30, perceived=sizes)
        for k in range(len(busy) - depth, len(busy)):
            own = {f: getattr(calm[k], f) for f in ("grievance", "quiet", "since_conciliation")}
            calm[k] = Observation(**{**vars(busy[k]), **own})
        last_busy = play(make_policy({"kind": policy_cls.name}, RUNS), busy)[-1]
        last_calm = play(make_policy({"kind": policy_cls.name}, RUNS), calm)[-1]
        assert np.array_equal(last_busy[0].size, last_calm[0].size)
        assert np.array_equal(last_busy[0].instrument, last_calm[0].instrument)
        assert np.array_equal(last_busy[1].acting, last_calm[1].acting)


# --------------------------------------------------------------- in the engine
def scenario_for(kind: str, runs: int = 5):
    """Two states, the policy under test toward a noisy, provoking tit-for-tat: hostile acts,
    conciliation and lags of several steps, so every mechanism runs."""
    policy = {
        "kind": kind,
        "noise": 0.3,
        "lag": [0, 2],
        "respond_prob": 0.8,
        "conciliation_rate": 4.0,
    }
    other = {
        "kind": "tit_for_tat",
        "noise": 0.5,
        "lag": [1, 3],
        "provocation_rate": 8.0,
        "provocation_size": [1, 4],
        "conciliation_rate": 3.0,
    }
    events = [
        ev(0, "b", "a", "expel", size=4),
        ev(2, "b", "a", "cap", level=80),
        ev(6, "b", "a", "restore", size=2),
    ]
    return two_state(
        policy, other, a_in_b=60, b_in_a=90, events=events, horizon_steps=30, runs=runs, seed=11
    )


def same_runs(x, y, runs_of_x=slice(None)) -> None:
    for name in ("outcome", "outcome_step", "final_staff", "staff_lost", "hostile_acts"):
        assert np.array_equal(getattr(x, name)[..., runs_of_x], getattr(y, name)), name
    assert np.array_equal(x.trajectories[..., runs_of_x], y.trajectories)


def test_same_seed_same_runs(policy_cls):
    sc = scenario_for(policy_cls.name)
    first = EscalationModel(sc, keep_trajectories=True).run()
    again = EscalationModel(sc, keep_trajectories=True).run()
    same_runs(first, again)
    assert first.hostile_acts.sum() > 0  # not vacuous: the states did act


def test_run_r_of_a_block_equals_run_r_alone(policy_cls):
    sc = scenario_for(policy_cls.name)
    block = EscalationModel(sc, keep_trajectories=True).run()
    for r in range(sc.runs):
        alone = EscalationModel(sc, runs=np.array([r]), keep_trajectories=True).run()
        same_runs(block, alone, slice(r, r + 1))
    # the runs differ from each other, so the comparison is not vacuous
    assert len({tuple(t) for t in block.trajectories[-1].T}) > 1
