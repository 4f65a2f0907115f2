"""One suite for every registered instrument, plugins included (in the manner of
Axelrod's ``TestPlayer``): a new instrument is tested by being registered.

Each hostile instrument is announced on small missions over a block of runs and checked
for what every instrument must do: a size that is a non-negative staff-equivalent; no
staff added, none below zero; nothing before the deadline; a cancellation that leaves
the missions as if nothing had been announced, except the sender's own measures; the
same result in a block as run by run; a lift that ends a liftable restriction. Each
instrument, hostile or conciliatory, is declared completely.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine import instruments
from sim.engine.instruments import EventField, Instrument
from sim.engine.missions import NO_LIMIT, Missions

# The plugin is registered only while this module's tests run (see ``with_plugin``), so
# other tests see the built-in registry; the lists below include it.
_BUILT_IN = instruments.registry_state()
from tests.plugins import example_instrument  # noqa: E402

HOSTILE = [i.name for i in instruments.hostile()]
EVERY = list(instruments.INSTRUMENTS)
instruments.restore_registry(_BUILT_IN)


@pytest.fixture(autouse=True, scope="module")
def with_plugin():
    state = instruments.registry_state()
    instruments.register_instrument(example_instrument.CloseInstitute)
    yield
    instruments.restore_registry(state)


RUNS = 6
DEPTH = 5
#: Two missions that every instrument can bite on; runs differ in their staff so that
#: vectorised and one-run results can disagree if an instrument mixes runs up.
INITIAL = [
    {
        "diplomats": 40,
        "local_staff": 30,
        "consulates": 3,
        "staff_per_consulate": 10,
        "cap": NO_LIMIT,
        "local_hire_ceiling": NO_LIMIT,
        "institute_staff": 12,
    },
    {
        "diplomats": 25,
        "local_staff": 0,
        "consulates": 1,
        "staff_per_consulate": 8,
        "cap": NO_LIMIT,
        "local_hire_ceiling": NO_LIMIT,
        "institute_staff": 0,
    },
]


def make_missions(runs: int = RUNS) -> Missions:
    missions = Missions(INITIAL, runs, DEPTH)
    missions.track_effects = True
    # Runs differ: fewer diplomats in later runs.
    missions.diplomats[0] -= np.arange(runs, dtype=np.int32) * 5
    return missions


def decision(missions: Missions, instrument: Instrument, m: int, count: float = 7.0):
    """The amount of a decision to act on ``count`` staff with this instrument."""
    counts = np.full(missions.n_runs, count)
    return np.asarray(instrument.amount_for(missions, m, counts), dtype=float)


def announce_and_apply(missions, instrument, m, runs=slice(None), own=False, deadline=2):
    n = missions.n_runs
    kind = np.full(n, instrument.code, dtype=np.int8)[runs]
    amount = decision(missions, instrument, m)[runs]
    size = missions.announce(m, kind, amount, deadline, runs, hostile=not own)
    return size


def step_to(missions, last: int) -> None:
    for t in range(last + 1):
        missions.apply_due(t)


@pytest.mark.parametrize("name", EVERY)
def test_is_declared_completely(name):
    instrument = instruments.INSTRUMENTS[name]
    assert instruments.by_code(instrument.code) is instrument
    assert instruments.label(instrument.code) == name
    assert name in instruments.labels()
    assert instrument.doc.strip(), f"{name}: no doc"
    for field_name, field in {**instrument.fields, **instrument.mission_fields}.items():
        assert isinstance(field, EventField) and field.name == field_name
        assert field.kind in instruments.FIELD_KINDS
        assert (field.kind == "choice") == bool(field.choices)
        if not field.required and field.default is not None:
            assert field.low is None or field.default >= field.low
    if instrument.amount_field is not None:
        assert instrument.amount_field in instrument.fields
    assert isinstance(instrument.describe(3.0, 3.0), str)


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("m", [0, 1])
def test_size_is_staff_and_staff_only_leaves(name, m):
    instrument = instruments.INSTRUMENTS[name]
    missions = make_missions()
    feasible = instrument.feasible(missions, m)
    assert feasible.shape == (RUNS,) and feasible.dtype == bool
    before = missions.totals().copy()
    size = announce_and_apply(missions, instrument, m)
    assert size.shape == (RUNS,)
    assert np.all(np.isfinite(size)) and np.all(size >= 0)
    # Nothing happens before the deadline.
    step_to(missions, 1)
    np.testing.assert_array_equal(missions.totals(), before)
    for t in range(2, DEPTH + 3):
        missions.apply_due(t)
        totals = missions.totals()
        assert np.all(totals <= before), f"{name} added staff"
        for pool in (missions.diplomats, missions.local, missions.posts):
            assert np.all(pool >= 0)
    # The other mission is untouched.
    other = 1 - m
    np.testing.assert_array_equal(missions.totals()[other], before[other])
    # Where it could bite and was announced with a positive size, it removed someone
    # (or set a standing restriction that holds).
    if feasible.any() and (size > 0).any():
        removed = before[m] - missions.totals()[m]
        restricted = missions.restricted(m) if instrument.liftable else np.zeros(RUNS, bool)
        assert np.all((removed > 0) | restricted | (size == 0)), name


@pytest.mark.parametrize("name", HOSTILE)
def test_cancelled_before_the_deadline_it_never_happens(name):
    instrument = instruments.INSTRUMENTS[name]
    untouched = make_missions()
    step_to(untouched, DEPTH + 2)
    missions = make_missions()
    announce_and_apply(missions, instrument, 0, deadline=3)
    missions.apply_due(0)
    missions.cancel(0, np.ones(RUNS, dtype=bool))
    assert not missions.pending_hostile.any()
    assert not missions.pending_staff(0).any()
    for t in range(1, DEPTH + 3):
        missions.apply_due(t)
    np.testing.assert_array_equal(missions.totals(), untouched.totals())


@pytest.mark.parametrize("name", HOSTILE)
def test_the_senders_own_measure_survives_a_cancellation(name):
    instrument = instruments.INSTRUMENTS[name]
    alone = make_missions()
    announce_and_apply(alone, instrument, 0, own=True, deadline=3)
    step_to(alone, DEPTH + 2)
    missions = make_missions()
    announce_and_apply(missions, instrument, 0, own=True, deadline=3)
    missions.cancel(0, np.ones(RUNS, dtype=bool))
    step_to(missions, DEPTH + 2)
    np.testing.assert_array_equal(missions.totals(), alone.totals())


@pytest.mark.parametrize("name", HOSTILE)
def test_a_block_equals_its_runs_one_by_one(name):
    instrument = instruments.INSTRUMENTS[name]
    block = make_missions()
    sizes = announce_and_apply(block, instrument, 0)
    step_to(block, DEPTH + 2)
    for r in range(RUNS):
        one = make_missions()
        # The same run, alone: select it from a block built the same way.
        size = announce_and_apply(one, instrument, 0, runs=np.array([r]))
        step_to(one, DEPTH + 2)
        assert size[0] == sizes[r]
        np.testing.assert_array_equal(one.totals()[:, r], block.totals()[:, r])


@pytest.mark.parametrize("name", [i.name for i in instruments.liftable()])
def test_a_lift_ends_the_restriction(name):
    instrument = instruments.INSTRUMENTS[name]
    missions = make_missions()
    announce_and_apply(missions, instrument, 0)
    step_to(missions, 3)
    holds = instrument.restricts(missions, 0)
    assert holds.any(), f"{name} did not restrict"
    lifted = missions.lift(0, np.ones(RUNS, dtype=bool))
    assert lifted[holds].all()
    assert not instrument.restricts(missions, 0).any()
    assert missions.lifted[instrument.code][holds].all()


def test_registering_a_taken_name_or_code_is_refused():
    class Again(Instrument):
        name = "expel"
        code = 99

    with pytest.raises(ValueError, match="already taken"):
        instruments.register_instrument(Again)

    class SameCode(Instrument):
        name = "brand_new"
        code = instruments.code_of("cap")

    with pytest.raises(ValueError, match=r"code .* already taken"):
        instruments.register_instrument(SameCode)
    assert "brand_new" not in instruments.INSTRUMENTS
