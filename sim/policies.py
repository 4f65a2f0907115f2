"""Retaliation policies: one small class per policy, vectorised over runs.

A policy is the rule by which one state answers one counterpart. It sees, for every
run of a block, what it perceived of the counterpart's hostile acts last step (size in
staff-equivalents after perception noise, and kind), its cumulative grievance, how long
the counterpart has been quiet and the two missions' sizes. It returns the size and
preferred instrument of a response. The mechanics shared by all policies (probability
of responding, response lag, perception noise, reciprocating conciliation, the ladder
of instruments, exogenous provocations) live in the engine (:mod:`sim.engine.agents`) and are
configured by the common parameters below, so each class here is only its rule.

The interface, in full:

- ``params``: the policy's own :class:`Param` specs (the common ones are added);
- ``memory``: the per-run :class:`Memory` it keeps toward one counterpart, allocated as
  ``self.<name>`` (an array over the block's runs) when the object is made and set
  back to its initial value by :meth:`Policy.reset`, which the engine calls;
- ``respond(obs) -> Response``: size and instrument of this step's answer;
- ``initiate(obs) -> Initiative``: which runs take a unilateral conciliatory step, and
  its size;
- ``classifier``: what tools may know about the rule without running it
  (:class:`Classifier`: memory depth, stochastic, initiates);
- ``@register_policy``: makes the class a ``kind`` of scenario files; the built-in
  policies below are registered the same way.

All sizes are float arrays over runs. Perceived sizes are whole head counts (rounded
to nearest); the engine rounds a response down to whole staff when it turns it into a
measure (:func:`sim.engine.missions.whole_staff`).
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from sim.engine import instruments as instrument_registry
from sim.engine.missions import Kind
from sim.priors import Prior

__all__ = [
    "BUILTIN_POLICIES",
    "CHOICE_PREFIX",
    "COMMON_PARAMS",
    "DEFAULT_INITIATIVE_SIZE",
    "DERIVED_AMOUNT",
    "ENTRY_POINT_GROUP",
    "NO_PREFERENCE_INSTRUMENT",
    "POLICIES",
    "Classifier",
    "Initiative",
    "Memory",
    "Observation",
    "Param",
    "PluginError",
    "Policy",
    "PolicyError",
    "Prior",
    "Response",
    "choice_params",
    "load_entry_point_policies",
    "load_plugin_module",
    "make_policy",
    "plugin_state",
    "register_policy",
    "restore_plugins",
]


_ALLOWED_CACHE: dict[tuple, np.ndarray] = {}


def _allowed_instruments(hostile: tuple) -> np.ndarray:
    """Per instrument code, whether a policy may answer with it (``Kind.NONE`` or a
    hostile instrument): a lookup table, cached per registry content."""
    key = tuple(i.code for i in hostile)
    table = _ALLOWED_CACHE.get(key)
    if table is None:
        table = np.zeros(max(key, default=0) + 1, dtype=bool)
        table[list(key)] = True
        table[int(Kind.NONE)] = True
        _ALLOWED_CACHE[key] = table
    return table


def _hostile_names() -> list[str]:
    """The hostile instruments a ladder may name (plugins' included), by code."""
    return [i.name for i in sorted(instrument_registry.hostile(), key=lambda i: i.code)]


@dataclass(frozen=True)
class Param:
    """A named, range-checked policy parameter.

    ``prior``, if given, makes the parameter calibratable (:mod:`sim.analysis.calibrate`): a
    :class:`~sim.priors.Prior` inside the parameter's range, on whole numbers
    (``"floor"``) for ``int`` and ``range`` parameters, ``"linear"`` or ``"log"`` for the
    others.
    """

    default: Any
    doc: str
    kind: str = "float"  # float | int | prob | range | ladder | instrument
    low: float | None = None
    high: float | None = None
    prior: Prior | None = None

    def __post_init__(self) -> None:
        if self.prior is None:
            return
        if not isinstance(self.prior, Prior):
            raise TypeError(f"Param prior: expected a sim.priors.Prior, found {self.prior!r}")
        if self.kind not in ("float", "int", "prob", "range"):
            raise ValueError(f"Param prior: a {self.kind} parameter cannot have a prior")
        if (self.kind in ("int", "range")) != (self.prior.scale == "floor"):
            raise ValueError(
                "Param prior: int and range parameters take a floor prior (whole numbers), "
                f"others a linear or log one; found {self.prior.scale} for a {self.kind}"
            )
        own_low, own_high = self._prior_range()
        lo, hi = self.prior_limits()
        if not (own_low <= lo and hi <= own_high):
            raise ValueError(
                f"Param prior: limits [{lo:g}, {hi:g}] outside the parameter's range "
                f"[{own_low:g}, {own_high:g}]"
            )
        if not (lo <= self.prior.low and self.prior.high <= hi):
            raise ValueError(
                f"Param prior: [{self.prior.low:g}, {self.prior.high:g}] is outside the "
                f"parameter's range [{lo:g}, {hi:g}]"
            )

    def _prior_range(self) -> tuple[float, float]:
        """The parameter's range on a prior's scale (whole numbers: one past the largest)."""
        if self.kind == "prob":
            return 0.0, 1.0
        low = -math.inf if self.low is None else float(self.low)
        high = math.inf if self.high is None else float(self.high)
        return low, high + 1 if self.kind in ("int", "range") else high

    def prior_limits(self) -> tuple[float, float]:
        """The widest prior the parameter may be given: its prior's ``limits``, else its
        range (for whole numbers, up to one past the largest value: a floor prior's
        ``high`` is excluded)."""
        if self.prior is not None and self.prior.limits is not None:
            return self.prior.limits
        return self._prior_range()

    def describe(self) -> str:
        if self.kind == "prob":
            return "probability in [0, 1]"
        if self.kind == "ladder":
            return "list of instruments from " + ", ".join(_hostile_names())
        if self.kind == "instrument":
            return "one of " + ", ".join(_hostile_names())
        if self.kind == "range":
            return f"[min, max] integers with {self.low:g} <= min <= max <= {self.high:g}"
        bounds = []
        if self.low is not None:
            bounds.append(f">= {self.low:g}")
        if self.high is not None:
            bounds.append(f"<= {self.high:g}")
        noun = "integer" if self.kind == "int" else "number"
        return f"{noun} {' and '.join(bounds)}".strip()

    def check(self, value: Any) -> tuple[Any, str | None]:
        """Return (normalised value, None) or (None, what was expected)."""
        expected = self.describe()
        if self.kind == "ladder":
            labels = set(_hostile_names())
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str) and v in labels for v in value)
                or len(set(value)) != len(value)
            ):
                return None, expected + " (non-empty, no repeats)"
            return list(value), None
        if self.kind == "instrument":
            if not isinstance(value, str) or value not in _hostile_names():
                return None, expected
            return value, None
        if self.kind == "range":
            if (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                and self.low <= value[0] <= value[1] <= self.high
            ):
                return [int(value[0]), int(value[1])], None
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and (self.low <= value <= self.high)
            ):
                return [value, value], None
            return None, expected
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, expected
        if isinstance(value, int) and abs(value) > 2**63:
            return None, expected  # beyond any bound, and beyond a float's exact range
        if not math.isfinite(value):
            return None, expected
        if self.kind == "int" and not (isinstance(value, int) or float(value).is_integer()):
            return None, expected
        low = 0.0 if self.kind == "prob" else self.low
        high = 1.0 if self.kind == "prob" else self.high
        if (low is not None and value < low) or (high is not None and value > high):
            return None, expected
        return (int(value) if self.kind == "int" else float(value)), None


DEFAULT_LADDER = ["expel", "cap", "ban_local_hires", "close_consulate", "suspend"]

#: Parameters every policy has. ``reciprocate``'s default depends on the policy.
COMMON_PARAMS: dict[str, Param] = {
    "respond_prob": Param(
        1.0,
        "probability of acting on a decision to respond in a step",
        "prob",
        prior=Prior(0.0, 1.0, doc="probability of answering an act"),
    ),
    "lag": Param(
        [1, 1],
        "steps from perceiving an act to announcing the response (uniform integer)",
        "range",
        0,
        52,
        prior=Prior(0, 9, "floor", "steps between perceiving an act and answering"),
    ),
    "notice": Param(4, "steps from announcing a measure to its deadline", "int", 1, 52),
    "comply": Param(
        0.0,
        "probability of meeting an ultimatum issued in the forecast: a conciliatory move "
        "toward the issuer in the next step",
        # No prior yet: calibrating it needs a record of ultimatums (issue 14).
        "prob",
    ),
    "settle_rate": Param(
        0.0,
        "proposals per year, during a round, to settle both missions at parity (the smaller "
        "of the two); the counterpart accepts with its reciprocate probability",
        "float",
        0,
        365,
    ),
    "noise": Param(
        0.0, "perception noise: perceived = rint(true size * exp(noise * Z))", "float", 0, 5
    ),
    "reciprocate": Param(
        1.0, "probability of answering a conciliatory move with one's own", "prob"
    ),
    "ladder": Param(
        DEFAULT_LADDER, "instruments in order of escalation, used when one runs out", "ladder"
    ),
    "escalate_instrument": Param(
        0.0,
        "probability that a response takes the next instrument up the ladder from the one "
        "perceived, instead of mirroring it",
        "prob",
        prior=Prior(
            0.0, 1.0, doc="probability of answering with the next instrument up the ladder"
        ),
    ),
    "provocation_rate": Param(
        0.0,
        "exogenous hostile acts toward the counterpart, per year",
        "float",
        0,
        365,
        prior=Prior(0.0, 4.0, doc="own initiatives per year"),
    ),
    "provocation_size": Param([1, 1], "staff per exogenous hostile act", "range", 1, 100_000),
    "conciliation_rate": Param(
        0.0, "exogenous unilateral conciliatory steps, per year", "float", 0, 365
    ),
    "conciliation_size": Param(
        [1, 1], "staff restored per exogenous conciliatory step", "range", 1, 100_000
    ),
    # Behaviour mechanisms (docs/model.md, "Behaviour mechanisms"). Each default turns its
    # mechanism off. Applied to the policy's answer in this order: saturation, ceiling,
    # restraint; then the choice of instrument (choice_<instrument>, made per hostile
    # instrument by choice_params()).
    "restraint_floor": Param(
        0,
        "staff this state keeps in the counterpart's capital: it answers with at most its "
        "mission there above this floor, and not at all at or below it (0: no floor)",
        "int",
        0,
        10_000_000,
        prior=Prior(
            0,
            200,
            "floor",
            "staff kept in the counterpart's capital, below which it stops answering",
            opt_in=True,
        ),
    ),
    "restraint_width": Param(
        0,
        "staff above restraint_floor over which the readiness to answer rises from 0 to 1 "
        "(0: fully ready anywhere above the floor)",
        "int",
        0,
        10_000_000,
    ),
    "saturation": Param(
        0.0,
        "answers saturate: up to S staff-equivalents unchanged, a larger s becomes "
        "S*(1 + log(s/S)), growing only logarithmically (0: linear, no saturation)",
        "float",
        0,
        10_000_000,
        prior=Prior(
            1.0,
            200.0,
            "log",
            "answer size beyond which answers grow only logarithmically",
            opt_in=True,
        ),
    ),
    "answer_ceiling": Param(
        0, "largest answer, in staff-equivalents (0: no ceiling)", "int", 0, 10_000_000
    ),
}

#: Prefix of the parameters generated for each hostile instrument (:func:`choice_params`).
CHOICE_PREFIX = "choice_"
#: ``choice_<instrument>_amount`` when the chosen instrument is sized by the answer.
DERIVED_AMOUNT = -1.0
_CHOICE_CACHE: dict[tuple, dict[str, Param]] = {}


def choice_params() -> dict[str, Param]:
    """``choice_<name>`` and ``choice_<name>_amount`` for every hostile instrument
    registered now (plugins' included), in the order of their codes.

    Generated from the instrument registry, not listed, so that a plugin's instrument is
    a channel of answer like the built-ins. ``choice_<name>``: the probability that an
    answer to a perceived act goes through that instrument instead of the policy's own
    (mirrored) one; a policy's choices sum to at most 1 (validated; per-run draws that
    sum to more are scaled down to 1 by the engine). ``choice_<name>_amount``: -1 sizes
    the measure by the answer (the instrument's ``amount_for``, as for any answer), a
    value >= 0 is the instrument's own amount (diplomats expelled, a level for a cap or
    ban, posts closed, a rate for visa denials).
    """
    # Keyed by the registry's tuple of hostile instruments (a new tuple whenever the
    # registry changes): asked for every policy parameter validated, so it must be cheap.
    key = instrument_registry.hostile()
    params = _CHOICE_CACHE.get(key)
    if params is None:
        hostile = sorted(key, key=lambda i: i.code)
        params = {}
        for instrument in hostile:
            name = instrument.name
            params[f"{CHOICE_PREFIX}{name}"] = Param(
                0.0,
                f"probability that an answer to a perceived act is a {name} instead of "
                "the policy's own instrument",
                "prob",
                prior=Prior(0.0, 1.0, doc=f"share of answers made through {name}", opt_in=True),
            )
            params[f"{CHOICE_PREFIX}{name}_amount"] = Param(
                DERIVED_AMOUNT,
                f"amount of a {name} chosen as an answer: -1 sized by the answer, >= 0 the "
                f"{name}'s own amount ({instrument.doc})",
                "float",
                -1,
                10_000_000,
            )
        _CHOICE_CACHE[key] = params
    return params


@dataclass
class Observation:
    """What one state perceives of one counterpart in one step, per run."""

    step: int
    perceived: np.ndarray  # float: perceived size of the counterpart's hostile acts last step
    perceived_kind: np.ndarray  # int8 Kind code of the largest of them (0 if none)
    grievance: np.ndarray  # float: cumulative perceived hostility since the forecast start
    quiet: np.ndarray  # int: steps since the counterpart's last hostile act
    since_conciliation: np.ndarray  # int: steps since this state's last conciliatory move
    own_total: np.ndarray  # int: this state's mission in the counterpart's country, and
    their_total: np.ndarray  # the counterpart's in this state, after pending expulsions
    draw: Callable[[str], np.ndarray]  # uniforms in (0, 1) for a named decision


#: What an instrument of ``Kind.NONE`` in a :class:`Response` means: "no preference",
#: and the engine expels. (Not "the first rung of the state's ladder": that would change
#: the results of every scenario whose ladder does not start with expel.)
NO_PREFERENCE_INSTRUMENT = Kind.EXPEL

#: Staff restored by a unilateral conciliatory step when ``initiate`` returns only which
#: runs take one (a bare boolean array, the interface before :class:`Initiative`).
DEFAULT_INITIATIVE_SIZE = 1.0


class PolicyError(ValueError):
    """A policy returned something the engine cannot act on (names the policy)."""


@dataclass(frozen=True)
class Memory:
    """One piece of per-run memory a policy keeps toward one counterpart.

    Declared in the class's ``memory`` dict; the policy object then has ``self.<name>``,
    an array of shape ``(runs,)`` and type ``dtype`` over the block's runs, filled with
    ``initial`` when the object is made and again by :meth:`Policy.reset`.
    """

    dtype: Any
    initial: Any
    doc: str

    def allocate(self, runs: int) -> np.ndarray:
        """A fresh array of shape ``(runs,)`` holding the initial value."""
        return np.full(runs, self.initial, dtype=self.dtype)


@dataclass(frozen=True, eq=False)
class Response:
    """What a policy answers in one step, per run of the block.

    ``size``: float array ``(runs,)``, staff-equivalents (below 1 after rounding down to
    whole staff: no answer). ``instrument``: int8 array ``(runs,)`` of :class:`Kind`
    codes, a hostile instrument or ``Kind.NONE`` for "no preference", which the engine
    takes as :data:`NO_PREFERENCE_INSTRUMENT` (expel). Either may be a scalar, broadcast
    over the runs.
    """

    size: np.ndarray
    instrument: np.ndarray

    @classmethod
    def nothing(cls, runs: int | tuple[int, ...]) -> Response:
        """No answer in any of ``runs`` runs."""
        return cls(np.zeros(runs), np.zeros(runs, dtype=np.int8))


@dataclass(frozen=True, eq=False)
class Initiative:
    """The unilateral conciliatory steps a policy takes in one step, per run.

    ``acting``: bool array ``(runs,)``, the runs that take one now. ``size``: staff
    restored by it (a number, or a float array ``(runs,)``) when the step has nothing
    pending to cancel nor a restriction to lift.
    """

    acting: np.ndarray
    size: np.ndarray | float = DEFAULT_INITIATIVE_SIZE

    @classmethod
    def none(cls, runs: int | tuple[int, ...]) -> Initiative:
        """No unilateral step in any of ``runs`` runs."""
        return cls(np.zeros(runs, dtype=bool))


@dataclass(frozen=True)
class Classifier:
    """What tools may know of a policy without running it (after Axelrod's classifiers).

    ``memory_depth``: how many past steps of the counterpart's acts the rule reads (0:
    none, 1: only the last step's, ``math.inf``: more, e.g. through the grievance, the
    quiet count or its own memory). ``stochastic``: it draws its own random numbers
    (``obs.draw``); the engine's (noise, lag, respond_prob, ...) do not count.
    ``initiates``: it takes unilateral conciliatory steps. ``None``: not declared.
    tests/test_policy_suite.py checks every declared claim on every registered policy.
    """

    memory_depth: float | None = None
    stochastic: bool | None = None
    initiates: bool | None = None


class Policy:
    """Base class: a retaliation rule with named, range-checked parameters.

    Subclasses declare ``name``, ``params``, ``memory`` and ``classifier`` and define
    ``respond`` (and ``initiate`` if they take unilateral steps); see the module
    docstring and docs/plugins.md.
    """

    name: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}
    memory: ClassVar[dict[str, Memory]] = {}
    classifier: ClassVar[Classifier] = Classifier()
    default_reciprocate: ClassVar[float] = 1.0
    #: False for policies that never act on their own (``scripted``).
    active: ClassVar[bool] = True
    #: Runs in the block this object decides for (the length of its memory arrays).
    runs: int = 1

    def __init__(self, runs: int = 1, **values: Any) -> None:
        for key, value in values.items():
            setattr(self, key, value)
        self.runs = int(runs)
        self.reset()

    def reset(self) -> None:
        """Set every declared :class:`Memory` back to its initial value, shape ``(runs,)``."""
        for key, spec in type(self).memory.items():
            setattr(self, key, spec.allocate(self.runs))

    @classmethod
    def all_params(cls) -> dict[str, Param]:
        common = dict(COMMON_PARAMS)
        common["reciprocate"] = Param(
            cls.default_reciprocate, COMMON_PARAMS["reciprocate"].doc, "prob"
        )
        return {**common, **choice_params(), **cls.params}

    def respond(self, obs: Observation) -> Response:
        """Size (staff-equivalents) and preferred instrument of this step's answer.

        A ``(size, instrument)`` tuple is accepted too (the interface before
        :class:`Response`).
        """
        raise NotImplementedError

    def initiate(self, obs: Observation) -> Initiative:
        """The runs in which the policy takes a unilateral conciliatory step now, and its size.

        A bare boolean array of runs is accepted too (the interface before
        :class:`Initiative`), meaning steps of :data:`DEFAULT_INITIATIVE_SIZE`.
        """
        return Initiative.none(obs.perceived.shape)

    def checked_response(self, obs: Observation) -> Response:
        """:meth:`respond`, as a :class:`Response` of arrays ``(runs,)`` the engine can use.

        Raises :class:`PolicyError` for a size that is negative or not finite, and for an
        instrument that is neither ``Kind.NONE`` nor a hostile instrument. ``Kind.NONE``
        stays as it is; the engine reads it as :data:`NO_PREFERENCE_INSTRUMENT`.
        """
        value = self.respond(obs)
        if isinstance(value, Response):
            size, instrument = value.size, value.instrument
        elif isinstance(value, tuple) and len(value) == 2:
            size, instrument = value
        else:
            raise self._error(
                f"respond returned {type(value).__name__}, expected a Response(size, instrument)"
            )
        shape = obs.perceived.shape
        size = np.broadcast_to(np.asarray(size, dtype=float), shape)
        instrument = np.asarray(instrument)
        if instrument.dtype.kind not in "iu":
            raise self._error(f"respond returned instruments of type {instrument.dtype}")
        instrument = np.broadcast_to(instrument, shape)
        # Checked on every call, so by the cheapest means: two reductions (a NaN fails
        # both comparisons) and a table lookup, not a search per run.
        if size.size and not (size.min() >= 0 and size.max() < np.inf):
            bad = size[~(np.isfinite(size) & (size >= 0))]
            raise self._error(f"respond returned sizes {bad[:3].tolist()}, expected >= 0")
        # Read from the instrument registry on every call: plugins may add hostile
        # instruments, which a policy that mirrors what it perceived passes on.
        hostile = instrument_registry.hostile()
        allowed = _allowed_instruments(hostile)
        lo, hi = (int(instrument.min()), int(instrument.max())) if instrument.size else (0, 0)
        if lo < 0 or hi >= len(allowed) or not allowed[instrument].all():
            allowed = np.isin(instrument, [i.code for i in hostile]) | (instrument == Kind.NONE)
            codes = sorted(set(instrument[~allowed].tolist()))
            raise self._error(
                f"respond returned instrument codes {codes}, expected Kind.NONE (no "
                "preference: expel) or a hostile instrument ("
                + ", ".join(f"{i.name}={i.code}" for i in hostile)
                + ")"
            )
        return Response(size, instrument.astype(np.int8, copy=False))

    def checked_initiative(self, obs: Observation) -> Initiative:
        """:meth:`initiate`, as an :class:`Initiative` of arrays ``(runs,)``.

        Raises :class:`PolicyError` for a size that is not positive and finite in a run
        that takes a step.
        """
        value = self.initiate(obs)
        if not isinstance(value, Initiative):  # a bare array of runs (the old interface)
            value = Initiative(value)
        shape = obs.perceived.shape
        acting = np.broadcast_to(np.asarray(value.acting, dtype=bool), shape)
        size = np.broadcast_to(np.asarray(value.size, dtype=float), shape)
        if acting.any() and not (np.isfinite(size[acting]).all() and (size[acting] > 0).all()):
            raise self._error("initiate returned a step size that is not a positive number")
        return Initiative(acting, size)

    def _error(self, message: str) -> PolicyError:
        cls = type(self)
        return PolicyError(
            f"policy {getattr(cls, 'name', '?')!r} ({cls.__module__}.{cls.__qualname__}): "
            + message
        )

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.all_params())
        return f"{type(self).__name__}({shown})"


# ------------------------------------------------------------------ registry
#: Every policy a scenario may name, by ``name``, in the order registered (the built-in
#: ones below first, by the same :func:`register_policy` decorator plugins use).
POLICIES: dict[str, type[Policy]] = {}
_NAME = re.compile(r"[a-z][a-z0-9_]*")


class PluginError(Exception):
    """A policy plugin that cannot be loaded or registered."""


def register_policy(cls: type[Policy]) -> type[Policy]:
    """Make a :class:`Policy` subclass available as ``kind = "<cls.name>"``.

    Checks the class: a subclass of :class:`Policy` with its own ``respond``, a ``name``
    of lowercase letters, digits and _ that no other policy has, parameters that are
    :class:`Param` specs named like ids (not clashing with the common parameters) whose
    defaults pass their own checks, :class:`Memory` specs named like ids (not clashing
    with a parameter, a method or an attribute) whose initial value fits their type, and
    a :class:`Classifier`. Returns the class, so it works as a decorator (the built-in
    policies use it too). Registering the same class twice is harmless.
    """
    where = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)!s}"
    if not (inspect.isclass(cls) and issubclass(cls, Policy)) or cls is Policy:
        raise PluginError(f"{where}: expected a subclass of sim.policies.Policy")
    name = cls.__dict__.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise PluginError(
            f"{where}: expected a class attribute name = '...' of lowercase letters, "
            f"digits and _, found {name!r}"
        )
    if POLICIES.get(name) is cls:
        return cls
    if name in POLICIES:
        raise PluginError(f"{where}: a policy named {name!r} exists already")
    if cls.respond is Policy.respond:
        raise PluginError(f"{where}: expected a respond(self, obs) method")
    params = cls.__dict__.get("params", {})
    if not isinstance(params, dict):
        raise PluginError(f"{where}: params must be a dict of name -> Param")
    for key, param in params.items():
        if not isinstance(key, str) or not _NAME.fullmatch(key) or key == "kind":
            raise PluginError(f"{where}: parameter name {key!r} is not an id")
        if key in COMMON_PARAMS or key.startswith(CHOICE_PREFIX):
            raise PluginError(f"{where}: parameter {key!r} clashes with a common parameter")
        if hasattr(Policy, key) or callable(getattr(cls, key, None)):
            raise PluginError(f"{where}: parameter {key!r} would hide a method or attribute")
        if not isinstance(param, Param):
            raise PluginError(f"{where}: parameter {key!r} must be a sim.policies.Param")
        if param.kind not in ("float", "int", "prob", "range", "ladder", "instrument"):
            raise PluginError(f"{where}: parameter {key!r} has unknown kind {param.kind!r}")
        if param.check(param.default)[1] is not None:
            raise PluginError(
                f"{where}: the default of {key!r}, {param.default!r}, is not {param.describe()}"
            )
    memory = cls.memory
    if not isinstance(memory, dict):
        raise PluginError(f"{where}: memory must be a dict of name -> Memory")
    for key, spec in memory.items():
        if not isinstance(key, str) or not _NAME.fullmatch(key) or key == "kind":
            raise PluginError(f"{where}: memory name {key!r} is not an id")
        if key in cls.all_params():
            raise PluginError(f"{where}: memory {key!r} clashes with a parameter")
        if hasattr(Policy, key) or callable(getattr(cls, key, None)):
            raise PluginError(f"{where}: memory {key!r} would hide a method or attribute")
        if not isinstance(spec, Memory):
            raise PluginError(f"{where}: memory {key!r} must be a sim.policies.Memory")
        try:
            spec.allocate(1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise PluginError(
                f"{where}: memory {key!r}: initial value {spec.initial!r} does not fit "
                f"dtype {spec.dtype!r} ({exc})"
            ) from None
    if not isinstance(cls.classifier, Classifier):
        raise PluginError(f"{where}: classifier must be a sim.policies.Classifier")
    reciprocate = cls.default_reciprocate
    if isinstance(reciprocate, bool) or not isinstance(reciprocate, int | float):
        raise PluginError(f"{where}: default_reciprocate must be a probability")
    if not 0 <= reciprocate <= 1:
        raise PluginError(f"{where}: default_reciprocate must be in [0, 1]")
    POLICIES[name] = cls
    return cls


def _mirror(obs: Observation, size: np.ndarray) -> Response:
    return Response(size, obs.perceived_kind)


@register_policy
class TitForTat(Policy):
    """Tit-for-tat: answer each act with one of the same kind and perceived size.

    Rapoport's entry in Axelrod's tournaments (Axelrod, *The Evolution of Cooperation*,
    1984); the diplomatic "mirror response" of the 2018 US–Russia round (60 for 60).
    """

    name = "tit_for_tat"
    classifier = Classifier(memory_depth=1, stochastic=False, initiates=False)

    def respond(self, obs: Observation) -> Response:
        return _mirror(obs, obs.perceived)


@register_policy
class Proportional(Policy):
    """Proportional retaliation: answer with ``ratio`` times the perceived size.

    ``ratio < 1`` dampens, ``ratio > 1`` escalates. Two such states form the discrete
    Richardson process: an exchange dies out iff ``ratio_A * ratio_B < 1``
    (Richardson, *Arms and Insecurity*, 1960).
    """

    name = "proportional"
    classifier = Classifier(memory_depth=1, stochastic=False, initiates=False)
    params: ClassVar[dict[str, Param]] = {
        "ratio": Param(
            1.0,
            "response size / perceived size",
            "float",
            0,
            10,
            # Log-uniform, so kept above 0 however widened.
            prior=Prior(
                0.2, 5.0, "log", "response size / size of the act answered", limits=(1e-3, 10.0)
            ),
        ),
    }

    def respond(self, obs: Observation) -> Response:
        return _mirror(obs, self.ratio * obs.perceived)


@register_policy
class Generous(Policy):
    """Generous tit-for-tat: mirror, but forgive an act with probability ``forgiveness``.

    Molander, JCR 29:611 (1985); Nowak & Sigmund, Nature 355:250 (1992). Forgiveness
    ends the echo that noise starts between two strict tit-for-tat players
    (Wu & Axelrod, JCR 39:183, 1995).
    """

    name = "generous"
    classifier = Classifier(memory_depth=1, stochastic=True, initiates=False)
    params: ClassVar[dict[str, Param]] = {
        "forgiveness": Param(
            0.1, "probability of letting an act go unanswered", "prob", prior=Prior(0.0, 1.0)
        ),
    }

    def respond(self, obs: Observation) -> Response:
        forgiven = obs.draw("forgive") < self.forgiveness
        return _mirror(obs, np.where(forgiven, 0.0, obs.perceived))


@register_policy
class Grim(Policy):
    """Grim trigger: no answer until grievance reaches ``threshold``, then punish forever.

    Friedman, Rev. Econ. Stud. 38:1 (1971). Once the cumulative perceived hostility
    reaches the threshold, the state expels ``punishment`` staff every step (climbing
    its ladder when expulsions run out) until the relationship breaks.
    """

    name = "grim"
    classifier = Classifier(memory_depth=math.inf, stochastic=False, initiates=False)
    default_reciprocate = 0.0
    params: ClassVar[dict[str, Param]] = {
        "threshold": Param(
            1.0,
            "cumulative perceived hostility that triggers",
            "float",
            0,
            1e9,
            prior=Prior(1.0, 1000.0, "log", "staff-equivalents suffered before punishing"),
        ),
        "punishment": Param(
            10,
            "staff-equivalents imposed every step once triggered",
            "int",
            1,
            10_000_000,
            prior=Prior(1, 101, "floor", "staff-equivalents expelled per step once triggered"),
        ),
    }

    def respond(self, obs: Observation) -> Response:
        triggered = obs.grievance >= self.threshold
        punishment = np.asarray(self.punishment, dtype=float)  # an array if drawn per run
        size = np.where(triggered & (obs.grievance > 0), punishment, 0.0)
        return Response(size, np.full(size.shape, Kind.EXPEL, dtype=np.int8))


@register_policy
class Parity(Policy):
    """Parity cap: answer hostility by capping the counterpart at one's own mission's size.

    Schelling's focal points (*The Strategy of Conflict*, 1960); Russia's 2017 cap of
    455 "in the spirit of parity" and the UK parity demand of March 2018. Where the
    counterpart's mission is not larger than one's own, it answers in kind.
    """

    name = "parity"
    classifier = Classifier(memory_depth=1, stochastic=False, initiates=False)

    def respond(self, obs: Observation) -> Response:
        excess = (obs.their_total - obs.own_total).astype(float)
        use_cap = (obs.perceived > 0) & (excess > 0)
        size = np.where(use_cap, excess, obs.perceived)
        kind = np.where(use_cap, np.int8(Kind.CAP), obs.perceived_kind).astype(np.int8)
        return Response(size, kind)


@register_policy
class ParityTarget(Policy):
    """Parity as a target: when hit, bring the counterpart down to parity, then stop.

    Unlike ``parity``, which answers in kind once the missions are even, parity here is
    where the exchange ends. Russia's 2017 cap of 455, the "exact number" of its staff in
    the US, "in the spirit of parity"; the UK-Russia parity demand of March 2018; and
    1986, when the US, after its 55 expulsions "to comply with legislation that ordered
    equal-size staffs", declared a "cease-fire" once both sides "evidently accepted the
    concept of parity" (../shared/data/expulsions_timeline.md A5/A6, B5, and the 1986
    paragraph of A.3). When an act is perceived and the counterpart's mission here
    exceeds one's own mission there by more than ``tolerance`` (a fraction of one's own),
    it answers with exactly the excess, through ``instrument``; at parity (within the
    tolerance) it does not answer at all.
    """

    name = "parity_target"
    classifier = Classifier(memory_depth=1, stochastic=False, initiates=False)
    params: ClassVar[dict[str, Param]] = {
        "tolerance": Param(
            0.0,
            "excess of the counterpart's mission over one's own, as a fraction of one's own, "
            "that still counts as parity",
            "float",
            0,
            10,
            prior=Prior(0.0, 0.5, doc="excess over one's own mission tolerated as parity"),
        ),
        "instrument": Param(
            "cap", "instrument that brings the counterpart down to parity", "instrument"
        ),
    }

    def respond(self, obs: Observation) -> Response:
        theirs = obs.their_total.astype(float)
        mine = obs.own_total.astype(float)
        above_parity = theirs > mine * (1.0 + self.tolerance)
        size = np.where((obs.perceived > 0) & above_parity, theirs - mine, 0.0)
        code = np.int8(instrument_registry.code_of(self.instrument))
        return Response(size, np.full(size.shape, code, dtype=np.int8))


@register_policy
class Grit(Policy):
    """GRIT: graduated and reciprocated initiatives in tension reduction.

    Osgood, *An Alternative to War or Surrender* (1962): after ``quiet_steps`` without a
    hostile act from the counterpart, take a small unilateral conciliatory step (cancel its
    pending measures, else lift a restriction, else restore ``step_size`` staff) and keep
    taking one every ``quiet_steps``; reciprocate conciliation; answer hostility in kind
    without escalating.
    """

    name = "grit"
    classifier = Classifier(memory_depth=math.inf, stochastic=False, initiates=True)
    params: ClassVar[dict[str, Param]] = {
        "quiet_steps": Param(
            8, "quiet steps before a unilateral conciliatory step", "int", 1, 20_000
        ),
        "step_size": Param(2, "staff restored by a unilateral step", "int", 1, 10_000_000),
    }

    def respond(self, obs: Observation) -> Response:
        return _mirror(obs, obs.perceived)

    def initiate(self, obs: Observation) -> Initiative:
        quiet_long_enough = obs.quiet >= self.quiet_steps
        last_step_long_ago = obs.since_conciliation >= self.quiet_steps
        return Initiative(quiet_long_enough & last_step_long_ago, size=self.step_size)


@register_policy
class Passive(Policy):
    """Never answers (Putin's non-retaliation of 30 December 2016).

    Exogenous provocations and conciliatory steps, if configured, still happen.
    """

    name = "passive"
    classifier = Classifier(memory_depth=0, stochastic=False, initiates=False)
    default_reciprocate = 0.0

    def respond(self, obs: Observation) -> Response:
        return Response.nothing(obs.perceived.shape)


@register_policy
class Scripted(Passive):
    """Only the scenario's dated events: no responses, no exogenous acts."""

    name = "scripted"
    classifier = Classifier(memory_depth=0, stochastic=False, initiates=False)
    active = False


#: The policies registered when this module is imported: those defined above.
BUILTIN_POLICIES = frozenset(POLICIES)

# ------------------------------------------------------------------ plugins
#: The entry point group through which installed packages offer policies.
ENTRY_POINT_GROUP = "escalation_sim.policies"
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_loaded_modules: list[str] = []
_entry_points_loaded = False


def _register_module(module: Any, origin: str) -> list[str]:
    """Register the policies a module defines (those it has not registered itself)."""
    found = []
    for value in vars(module).values():
        if (
            inspect.isclass(value)
            and issubclass(value, Policy)
            and value.__module__ == module.__name__
            and "name" in value.__dict__
        ):
            try:
                register_policy(value)
            except PluginError as exc:
                raise PluginError(f"{origin}: {exc}") from None
            found.append(value.__dict__["name"])
    return found


def _other_registries() -> tuple[frozenset, frozenset]:
    """The names in the instrument and outcome registries (a plugin module may add to
    them, by registering when it is imported)."""
    from sim import outcome_classes

    outcomes = {c.name for c in outcome_classes.registered_outcomes()}
    return frozenset(instrument_registry.INSTRUMENTS), frozenset(outcomes)


def _defines_instruments_or_outcomes(module: str) -> bool:
    """Whether an (already imported) module registered an instrument or outcome class."""
    from sim.outcome_classes import defined_in

    instruments = instrument_registry.INSTRUMENTS.values()
    return bool(defined_in(module)) or any(type(i).__module__ == module for i in instruments)


def load_plugin_module(name: str) -> list[str]:
    """Import a module named on the command line (``--plugin MODULE``); register its policies.

    The module may call :func:`register_policy` itself; any :class:`Policy` subclass it
    defines with a ``name`` is registered too. Only ever called with a name the user
    typed, never with a string from a scenario file.
    """
    if not isinstance(name, str) or not _MODULE.fullmatch(name):
        raise PluginError(f"--plugin: expected a module name such as my_policies, found {name!r}")
    before = set(POLICIES)
    others_before = _other_registries()
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise PluginError(f"--plugin {name}: cannot import it ({exc})") from None
    except Exception as exc:
        raise PluginError(
            f"--plugin {name}: importing it failed: {type(exc).__name__}: {exc}"
        ) from None
    _register_module(module, f"--plugin {name}")
    if (
        set(POLICIES) == before
        and _other_registries() == others_before
        and not any(
            inspect.isclass(v) and issubclass(v, Policy) and v.__module__ == name
            for v in vars(module).values()
        )
        and not _defines_instruments_or_outcomes(name)
    ):
        raise PluginError(
            f"--plugin {name}: defines no policy, instrument or outcome (no subclass of "
            "Policy, and nothing registered with register_instrument or register_outcome)"
        )
    if name not in _loaded_modules:
        _loaded_modules.append(name)
    return sorted(set(POLICIES) - before)


def load_entry_point_policies() -> list[str]:
    """Register the policies of installed packages (entry point group ``escalation_sim.policies``).

    Each entry point names a Policy subclass (``two_strikes = my_pkg.policies:TwoStrikes``)
    or a module whose policies are registered. Loaded once per process.
    """
    global _entry_points_loaded
    if _entry_points_loaded:
        return []
    from importlib.metadata import entry_points

    before = set(POLICIES)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP})"
        try:
            obj = ep.load()
        except Exception as exc:
            raise PluginError(f"{origin}: cannot load it: {type(exc).__name__}: {exc}") from None
        if inspect.ismodule(obj):
            _register_module(obj, origin)
        else:
            try:
                register_policy(obj)
            except PluginError as exc:
                raise PluginError(f"{origin}: {exc}") from None
    _entry_points_loaded = True
    return sorted(set(POLICIES) - before)


def plugin_state() -> dict[str, Any]:
    """What another process needs to load the same plugins (for sweeps' workers)."""
    return {
        "modules": list(_loaded_modules),
        "entry_points": _entry_points_loaded,
        "sys_path": list(sys.path),
    }


def restore_plugins(state: dict[str, Any] | None) -> None:
    """Load, in a worker process, the plugins :func:`plugin_state` recorded."""
    if not state:
        return
    for entry in state.get("sys_path", []):
        if entry not in sys.path:
            sys.path.append(entry)
    if state.get("entry_points"):
        load_entry_point_policies()
    for name in state.get("modules", []):
        if name not in _loaded_modules:
            load_plugin_module(name)


def make_policy(values: dict[str, Any], runs: int = 1) -> Policy:
    """Build a policy from already validated values (``kind`` plus parameters).

    ``runs``: the block's runs, the length of the policy's memory arrays (and of any
    parameter drawn per run).
    """
    cls = POLICIES[values["kind"]]
    merged = {k: p.default for k, p in cls.all_params().items()}
    merged.update({k: v for k, v in values.items() if k != "kind"})
    return cls(runs=runs, **merged)
