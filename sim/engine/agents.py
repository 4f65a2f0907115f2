"""State agents: each state observes its counterparts and decides, for a block of runs.

A :class:`StateAgent` holds one :class:`Relation` per counterpart: the policy it
follows toward that state and the memory that policy needs, as arrays over runs. In
each step the agent only *decides* (what it perceived of the previous step's
announcements, through its own noise); the model then announces every decision and
applies the effects that fall due, so no agent sees another's decision of the same
step and results never depend on agent order.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.engine import instruments
from sim.engine.event_record import ANSWER, INITIATIVE, RECIPROCATION
from sim.engine.missions import Kind, whole_staff
from sim.engine.rng import slot
from sim.policies import (
    CHOICE_PREFIX,
    DERIVED_AMOUNT,
    NO_PREFERENCE_INSTRUMENT,
    Observation,
    Policy,
    make_policy,
)

if TYPE_CHECKING:
    from sim.engine.model import EscalationModel

__all__ = ["Perception", "Relation", "StateAgent"]

_SLOTS = (
    "noise",
    "respond",
    "lag",
    "provoke",
    "provoke_size",
    "reciprocate",
    "conciliate",
    "conciliate_size",
    "escalate",
    "restraint",
    "choice",
)


@dataclass(frozen=True, eq=False)
class Perception:
    """What one state perceived of one counterpart's announcements last step.

    Every field is an array of shape ``(runs,)``.
    """

    perceived: np.ndarray  # float: size of its hostile acts after perception noise
    kind: np.ndarray  # int8 Kind code of the largest of them (0 if none)
    answered: np.ndarray  # int64 event-record row of that act (-1: none)
    conciliation: np.ndarray  # float: size of its conciliatory moves
    reciprocated: np.ndarray  # int64 event-record row of that move (-1: none)
    own_total: np.ndarray  # int: this state's mission there, after pending expulsions
    their_total: np.ndarray  # int: the counterpart's mission here, likewise


class Relation:
    """One state's stance toward one counterpart, with its memory over runs.

    ``act_m`` is the counterpart's mission in this state (what this state can act on);
    ``obs_m`` is this state's mission in the counterpart (where it suffers the
    counterpart's acts). Either is -1 when that mission does not exist.
    """

    def __init__(
        self,
        actor: str,
        target: str,
        act_m: int,
        obs_m: int,
        values: dict,
        runs: int,
        step_days: int,
    ) -> None:
        self.actor = actor
        self.target = target
        self.act_m = act_m
        self.obs_m = obs_m
        self.policy: Policy = make_policy(values, runs=runs)
        # The policy's own memory starts afresh with every relation (every block of runs).
        self.policy.reset()
        p = self.policy
        # Parameters may be arrays over runs (drawn per run, sim.distributions).
        self.lag_min, self.lag_max = p.lag
        self.depth = int(np.max(self.lag_max)) + 1
        # Indexed by instrument code (plugins' included).
        codes = len(instruments.labels())
        self.rank = np.full(codes, len(instruments.hostile()) + 1, dtype=np.int8)
        for position, label in enumerate(p.ladder):
            self.rank[instruments.code_of(label)] = position
        # One rung up the ladder from each instrument (the top rung and instruments off the
        # ladder stay where they are).
        self.next_rung = np.arange(codes, dtype=np.int8)
        rungs = [instruments.code_of(label) for label in p.ladder]
        for lower, upper in itertools.pairwise(rungs):
            self.next_rung[lower] = upper
        years = step_days / 365.25
        self.p_provoke = -np.expm1(-p.provocation_rate * years)
        self.p_conciliate = -np.expm1(-p.conciliation_rate * years)
        # Which mechanisms can act in some run, decided once: the parameters may be arrays
        # over runs, and the step loop should not test them again every step.
        self.noisy = bool(np.any(p.noise > 0))
        self.noisy_everywhere = bool(np.all(p.noise > 0))
        self.escalates = bool(np.any(p.escalate_instrument > 0))
        # Whether the policy takes unilateral steps at all (asked only if it does).
        self.initiates = type(p).initiate is not Policy.initiate
        self.reciprocates = bool(np.any(p.reciprocate > 0))
        self.reciprocates_always = bool(np.all(p.reciprocate >= 1))
        self.responds_always = bool(np.all(p.respond_prob >= 1))
        self.fixed_lag = bool(np.all(self.lag_min == self.lag_max))
        self.provokes = bool(np.any(self.p_provoke > 0))
        self.conciliates = bool(np.any(self.p_conciliate > 0))
        self.saturates = bool(np.any(np.asarray(p.saturation) > 0))
        self.has_ceiling = bool(np.any(np.asarray(p.answer_ceiling) > 0))
        self.restrains = bool(np.any(np.asarray(p.restraint_floor) > 0))
        # Drawn only where a floor has a width (else readiness is 0 or 1).
        self.restrains_gradually = bool(
            np.any((np.asarray(p.restraint_floor) > 0) & (np.asarray(p.restraint_width) > 0))
        )
        self._init_choice(runs)
        self.slots = {name: slot(name, actor, target) for name in _SLOTS}
        self._policy_slots: dict[str, int] = {}
        # Decisions waiting for their announcement step (ring buffer over the lag).
        self.sched_size = np.zeros((self.depth, runs))
        self.sched_kind = np.zeros((self.depth, runs), dtype=np.int8)
        self.sched_concil = np.zeros((self.depth, runs))
        # The amount of a queued answer through a chosen channel (DERIVED_AMOUNT: sized by
        # the answer at the announcement). Kept only where a choice can be made.
        self.sched_amount = np.full((self.depth, runs), DERIVED_AMOUNT) if self.chooses else None
        # Why each queued decision was taken (sim.engine.event_record causes), and the event-record
        # row of the act it answers or reciprocates (-1: none). When several decisions fall
        # due together they are announced as one, with the first one's cause.
        self.sched_cause = np.zeros((self.depth, runs), dtype=np.int8)
        self.sched_ref = np.full((self.depth, runs), -1, dtype=np.int64)
        self.sched_concil_cause = np.zeros((self.depth, runs), dtype=np.int8)
        self.sched_concil_ref = np.full((self.depth, runs), -1, dtype=np.int64)
        # Memory.
        self.grievance = np.zeros(runs)
        self.quiet = np.zeros(runs, dtype=np.int64)
        self.since_conciliation = np.full(runs, 10**6, dtype=np.int64)
        self.conciliated = np.zeros(runs, dtype=bool)  # made a conciliatory move in the forecast
        self.offer_open = np.zeros(runs, dtype=bool)  # this state's conditional offer stands
        self.offer_row = np.full(runs, -1, dtype=np.int64)  # its row in the event record
        # This step's intentions, read by the model when it announces.
        self.intent_size = np.zeros(runs)
        self.intent_kind = np.zeros(runs, dtype=np.int8)
        self.intent_amount: np.ndarray | None = None  # None: every amount is derived
        self.intent_concil = np.zeros(runs)
        self.intent_joined = np.zeros(runs)  # staff expelled in solidarity with an ally
        self.intent_cause = np.zeros(runs, dtype=np.int8)
        self.intent_ref = np.full(runs, -1, dtype=np.int64)
        self.intent_concil_cause = np.zeros(runs, dtype=np.int8)
        self.intent_concil_ref = np.full(runs, -1, dtype=np.int64)
        self.intent_joined_ref = np.full(runs, -1, dtype=np.int64)
        self.intent_joined_ally = np.full(runs, -1, dtype=np.int16)

    def _init_choice(self, runs: int) -> None:
        """The channels an answer may be chosen to go through (``choice_<instrument>``),
        as tables over runs: instrument codes, cumulative probabilities, own amounts.

        Per-run probabilities that sum to more than 1 (drawn from distributions, which
        validation cannot sum) are scaled down to sum to 1: no run mirrors then.
        """
        p = self.policy
        codes, probs, amounts = [], [], []
        for instrument in sorted(instruments.hostile(), key=lambda i: i.code):
            key = CHOICE_PREFIX + instrument.name
            prob = np.broadcast_to(np.asarray(getattr(p, key, 0.0), dtype=float), (runs,))
            if not np.any(prob > 0):
                continue
            codes.append(instrument.code)
            probs.append(prob)
            amount = getattr(p, f"{key}_amount", DERIVED_AMOUNT)
            amounts.append(np.broadcast_to(np.asarray(amount, dtype=float), (runs,)))
        self.chooses = bool(codes)
        if not self.chooses:
            return
        self.choice_codes = np.array(codes, dtype=np.int8)
        stacked = np.array(probs)
        total = stacked.sum(axis=0)
        stacked = stacked / np.where(total > 1.0, total, 1.0)
        self.choice_cumulative = np.cumsum(stacked, axis=0)
        self.choice_amount = np.array(amounts)

    def policy_slot(self, name: str) -> int:
        if name not in self._policy_slots:
            self._policy_slots[name] = slot("policy", name, self.actor, self.target)
        return self._policy_slots[name]

    def schedule(
        self,
        step: int,
        lag: np.ndarray | int,
        size: np.ndarray,
        kind: np.ndarray | None,
        cause: np.ndarray | int = INITIATIVE,
        ref: np.ndarray | int = -1,
        amount: np.ndarray | None = None,
    ) -> None:
        """Queue decisions for announcement ``lag`` steps from now (size 0 = nothing).

        ``kind`` None queues a conciliatory move. ``cause`` and ``ref`` (per run, or one
        for all) say why: see :mod:`sim.engine.event_record`. ``amount``: a hostile
        decision's own amount in its instrument (per run; ``DERIVED_AMOUNT`` or None:
        sized by ``size``). Decisions that fall due together keep an own amount only if
        they all have the same one.
        """
        cols = np.nonzero(size > 0)[0]
        if not len(cols):
            return
        lag = np.broadcast_to(lag, size.shape)[cols]
        rows = (step + lag) % self.depth
        cause = np.broadcast_to(cause, size.shape)[cols]
        ref = np.broadcast_to(ref, size.shape)[cols]
        if kind is None:
            sizes, causes, refs = self.sched_concil, self.sched_concil_cause, self.sched_concil_ref
        else:
            sizes, causes, refs = self.sched_size, self.sched_cause, self.sched_ref
            self.sched_kind[rows, cols] = np.maximum(self.sched_kind[rows, cols], kind[cols])
        first = sizes[rows, cols] == 0
        if kind is not None and self.sched_amount is not None:
            new = DERIVED_AMOUNT if amount is None else np.broadcast_to(amount, size.shape)[cols]
            queued = self.sched_amount[rows, cols]
            same = queued == new
            self.sched_amount[rows, cols] = np.where(first | same, new, DERIVED_AMOUNT)
        causes[rows, cols] = np.where(first, cause, causes[rows, cols])
        refs[rows, cols] = np.where(first, ref, refs[rows, cols])
        sizes[rows, cols] += size[cols]

    def pop(self, step: int) -> None:
        """Move the decisions due now into this step's intentions."""
        row = step % self.depth
        self.intent_size = self.sched_size[row].copy()
        self.intent_kind = self.sched_kind[row].copy()
        if self.sched_amount is not None:
            self.intent_amount = self.sched_amount[row].copy()
            self.sched_amount[row] = DERIVED_AMOUNT
        self.intent_concil = self.sched_concil[row].copy()
        self.intent_joined = np.zeros_like(self.intent_concil)
        self.intent_cause = self.sched_cause[row].copy()
        self.intent_ref = self.sched_ref[row].copy()
        self.intent_concil_cause = self.sched_concil_cause[row].copy()
        self.intent_concil_ref = self.sched_concil_ref[row].copy()
        self.intent_joined_ref = np.full_like(self.intent_ref, -1)
        self.intent_joined_ally = np.full(len(self.intent_ref), -1, dtype=np.int16)
        self.sched_size[row] = 0.0
        self.sched_kind[row] = 0
        self.sched_concil[row] = 0.0
        self.sched_cause[row] = 0
        self.sched_ref[row] = -1
        self.sched_concil_cause[row] = 0
        self.sched_concil_ref[row] = -1

    def drop_answers(self, runs: np.ndarray, withdrawn) -> None:
        """Forget queued answers (in the selected runs) to acts that ``withdrawn`` says
        were called off before they took effect: nothing is left to answer."""
        # This step's intention, popped before the cancellation was announced, goes too.
        now = (self.intent_cause == ANSWER) & (self.intent_size > 0) & runs
        if now.any():
            now &= withdrawn(self.intent_ref)
            self.intent_size[now] = 0.0
            self.intent_kind[now] = 0
            if self.intent_amount is not None:
                self.intent_amount[now] = DERIVED_AMOUNT
        answers = (self.sched_cause == ANSWER) & (self.sched_size > 0) & runs[None, :]
        if not answers.any():
            return
        gone = answers & withdrawn(self.sched_ref)
        self.sched_size[gone] = 0.0
        self.sched_kind[gone] = 0
        if self.sched_amount is not None:
            self.sched_amount[gone] = DERIVED_AMOUNT
        self.sched_cause[gone] = 0
        self.sched_ref[gone] = -1


class StateAgent(mesa.Agent):
    """A state: its policies toward each counterpart, applied to every run of a block."""

    def __init__(self, model: EscalationModel, state_id: str, index: int) -> None:
        super().__init__(model)
        self.state_id = state_id
        self.index = index
        self.relations: dict[str, Relation] = {}
        self.solidarity = 0.0
        self.solidarity_size = 0
        # (ally's mission-of-target index, my relation toward target, slot id)
        self.solidarity_links: list[tuple[int, Relation, int]] = []
        # answer_together: every relation draws its lag from this one state-level slot,
        # so acts perceived together are answered together (one announcement).
        spec = model.scenario.states.get(state_id)
        self.answer_together = bool(getattr(spec, "answer_together", False))
        self.lag_slot = slot("lag", state_id)

    def decide(self) -> None:
        """Observe last step's announcements through this state's eyes and decide."""
        model = self.model
        t = model.t
        forecasting = t >= model.forecast_step
        for rel in self.relations.values():
            if forecasting and rel.policy.active:
                self._decide_relation(rel, t)
            rel.pop(t)
        if forecasting and self.solidarity > 0:
            self._join_allies(t)

    def _decide_relation(self, rel: Relation, t: int) -> None:
        """One relation's decisions of step ``t``, in every run of the block.

        The sub-steps, in order: perceive last step's acts, the policy's rule (and the
        instrument's escalation), reciprocation of conciliation, scheduling (probability
        of responding, lag), then the unilateral moves. Every random number is addressed
        by (step, slot), so splitting the work does not move any of them.
        """
        seen = self._perceive(rel, t)
        obs = self._observation(rel, t, seen)
        size, kind, amount = self._apply_rule(rel, t, obs)
        size, reciprocating = self._reciprocate(rel, t, seen, size)
        self._schedule_answers(rel, t, seen, size, kind, reciprocating, amount)
        self._unilateral_moves(rel, t, obs)

    def _perceive(self, rel: Relation, t: int) -> Perception:
        """Last step's announcements through this state's eyes; updates grievance and quiet."""
        model = self.model
        p = rel.policy
        runs = model.n_runs
        if rel.obs_m >= 0:
            answered = model.last.ref[rel.obs_m]
            reciprocated = model.last.concil_ref[rel.obs_m]
            true_size = model.last.size[rel.obs_m]
            seen_kind = model.last.kind[rel.obs_m]
            concil_seen = model.last.concil[rel.obs_m]
            own_total = model.missions.net_total(rel.obs_m)
        else:
            answered = reciprocated = np.full(runs, -1, dtype=np.int64)
            true_size = np.zeros(runs)
            seen_kind = np.zeros(runs, dtype=np.int8)
            concil_seen = np.zeros(runs)
            own_total = np.zeros(runs, dtype=np.int32)
        if rel.act_m >= 0:
            their_total = model.missions.net_total(rel.act_m)
        else:
            their_total = np.zeros(runs, dtype=np.int32)
        perceived = true_size
        hit = true_size > 0
        if rel.noisy and hit.any():
            z = model.streams.normal(t, rel.slots["noise"])
            # A perceived size is a head count: the nearest whole number (so small acts
            # can go unnoticed), median-unbiased whatever the response then rounds.
            perceived = np.where(hit, np.rint(true_size * np.exp(p.noise * z)), 0.0)
            if not rel.noisy_everywhere:  # per-run noise: runs without it see true sizes
                perceived = np.where(p.noise > 0, perceived, true_size)
        rel.grievance += perceived
        rel.quiet = np.where(hit, 0, rel.quiet + 1)
        rel.since_conciliation += 1
        return Perception(
            perceived=perceived,
            kind=seen_kind,
            answered=answered,
            conciliation=concil_seen,
            reciprocated=reciprocated,
            own_total=own_total,
            their_total=their_total,
        )

    def _observation(self, rel: Relation, t: int, seen: Perception) -> Observation:
        """What the policy is shown: the perception and the relation's memory."""
        streams = self.model.streams
        return Observation(
            step=t,
            perceived=seen.perceived,
            perceived_kind=seen.kind,
            grievance=rel.grievance,
            quiet=rel.quiet,
            since_conciliation=rel.since_conciliation,
            own_total=seen.own_total,
            their_total=seen.their_total,
            draw=lambda name: streams.uniform(t, rel.policy_slot(name)),
        )

    def _apply_rule(
        self, rel: Relation, t: int, obs: Observation
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The policy's answer: sizes (float, runs), instruments (int8 Kind, runs) and
        own amounts in them (float, runs, ``DERIVED_AMOUNT`` where sized by the answer;
        None when no channel can be chosen).

        The size goes through saturation, the ceiling and restraint, in that order. No
        preference (``Kind.NONE``) becomes :data:`~sim.policies.NO_PREFERENCE_INSTRUMENT`.
        An answer to a perceived act may then be made through a chosen channel
        (``choice_<instrument>``); one that is not, with probability
        ``escalate_instrument``, takes the next rung of the ladder up.
        """
        p = rel.policy
        response = p.checked_response(obs)
        size = response.size
        kind = response.instrument
        kind = np.where(kind == Kind.NONE, np.int8(NO_PREFERENCE_INSTRUMENT), kind).astype(np.int8)
        if rel.saturates:
            size = self._saturate(size, p.saturation)
        if rel.has_ceiling:
            size = np.where(p.answer_ceiling > 0, np.minimum(size, p.answer_ceiling), size)
        if rel.restrains:
            size = self._restrain(rel, t, obs, size)
        amount = None
        mirrored: np.ndarray | bool = True
        if rel.chooses:
            kind, amount, chosen = self._choose_channel(rel, t, obs, kind)
            mirrored = ~chosen
        if rel.escalates:
            shift = self.model.streams.uniform(t, rel.slots["escalate"]) < p.escalate_instrument
            kind = np.where(shift & mirrored, rel.next_rung[kind], kind).astype(np.int8)
        return size, kind, amount

    @staticmethod
    def _saturate(size: np.ndarray, scale) -> np.ndarray:
        """Answers up to the saturation scale S as they are, larger ones growing only
        logarithmically beyond it: ``S * (1 + log(s / S))`` for s > S (continuous, with
        slope 1 at S, concave). Small answers keep their exact size, so an act of one
        is still answered with one."""
        scale = np.asarray(scale, dtype=float)
        safe = np.where(scale > 0, scale, 1.0)
        beyond = safe * (1.0 + np.log(np.maximum(size, safe) / safe))
        return np.where((scale > 0) & (size > scale), beyond, size)

    def _restrain(self, rel: Relation, t: int, obs: Observation, size: np.ndarray) -> np.ndarray:
        """A state that needs its embassy answers with at most what it can afford to lose
        above ``restraint_floor`` (expecting its answer mirrored), and is less ready to
        answer the closer it is to the floor: ready with probability
        clip((own - floor) / width, 0, 1), or only above the floor when the width is 0."""
        p = rel.policy
        floor = np.asarray(p.restraint_floor)
        width = np.asarray(p.restraint_width)
        room = obs.own_total.astype(float) - floor
        limited = floor > 0
        size = np.where(limited, np.minimum(size, np.maximum(room, 0.0)), size)
        if rel.restrains_gradually:
            readiness = np.where(
                width > 0, np.clip(room / np.maximum(width, 1), 0.0, 1.0), room > 0
            )
            ready = self.model.streams.uniform(t, rel.slots["restraint"]) < readiness
        else:
            ready = room > 0
        return np.where(limited & ~ready, 0.0, size)

    def _choose_channel(
        self, rel: Relation, t: int, obs: Observation, kind: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which answers go through a chosen instrument instead of the policy's own: one
        uniform per run against the cumulative ``choice_<instrument>`` probabilities, in
        the order of the instruments' codes. Only answers to perceived acts (not a
        policy's own punishments). Returns the instruments, their own amounts
        (``DERIVED_AMOUNT``: sized by the answer) and the runs that chose."""
        answering = obs.perceived > 0
        if not answering.any():  # addressed draws: skipping one moves no other
            return kind, np.full(len(kind), DERIVED_AMOUNT), answering
        u = self.model.streams.uniform(t, rel.slots["choice"])
        below = u < rel.choice_cumulative
        chosen = answering & below[-1]
        pick = below.argmax(axis=0)
        columns = np.arange(len(u))
        kind = np.where(chosen, rel.choice_codes[pick], kind).astype(np.int8)
        amount = np.where(chosen, rel.choice_amount[pick, columns], DERIVED_AMOUNT)
        return kind, amount, chosen

    def _reciprocate(
        self, rel: Relation, t: int, seen: Perception, size: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Which runs answer conciliation (bool, runs), and the answer sizes left.

        A state that reciprocates this step does not also retaliate: its size becomes 0.
        """
        reciprocating = np.zeros(self.model.n_runs, dtype=bool)
        if rel.reciprocates and (seen.conciliation > 0).any():
            reciprocating = seen.conciliation > 0
            if not rel.reciprocates_always:
                u = self.model.streams.uniform(t, rel.slots["reciprocate"])
                reciprocating &= u < rel.policy.reciprocate
            size = np.where(reciprocating, 0.0, size)
        return size, reciprocating

    def _schedule_answers(
        self,
        rel: Relation,
        t: int,
        seen: Perception,
        size: np.ndarray,
        kind: np.ndarray,
        reciprocating: np.ndarray,
        amount: np.ndarray | None = None,
    ) -> None:
        """Queue the answers and reciprocations, each with probability ``respond_prob``
        (answers only) and after the relation's lag (drawn from the state's slot when it
        answers together, the relation's otherwise)."""
        streams = self.model.streams
        p = rel.policy
        acting = whole_staff(size) >= 1
        if not rel.responds_always and acting.any():
            acting &= streams.uniform(t, rel.slots["respond"]) < p.respond_prob
        if not (acting.any() or reciprocating.any()):
            return
        if rel.fixed_lag:
            lag = rel.lag_min
        else:
            lag_slot = self.lag_slot if self.answer_together else rel.slots["lag"]
            lag = streams.integers(t, lag_slot, rel.lag_min, rel.lag_max)
        # An answer to what was perceived, else the policy's own move (e.g. grim's).
        perceived = seen.perceived
        cause = np.where(perceived > 0, np.int8(ANSWER), np.int8(INITIATIVE))
        ref = np.where(perceived > 0, seen.answered, -1)
        rel.schedule(t, lag, np.where(acting, size, 0.0), kind, cause, ref, amount)
        rel.schedule(
            t,
            lag,
            np.where(reciprocating, np.maximum(seen.conciliation, 1.0), 0.0),
            None,
            RECIPROCATION,
            seen.reciprocated,
        )

    def _unilateral_moves(self, rel: Relation, t: int, obs: Observation) -> None:
        """The policy's own conciliatory initiatives (e.g. GRIT's), exogenous conciliatory
        steps and exogenous provocations, all announced this step (no lag)."""
        streams = self.model.streams
        p = rel.policy
        initiative = p.checked_initiative(obs) if rel.initiates else None
        if rel.conciliates:
            u = streams.uniform(t, rel.slots["conciliate"])
            exo = u < rel.p_conciliate
            lo, hi = p.conciliation_size
            amount = lo if lo == hi else streams.integers(t, rel.slots["conciliate_size"], lo, hi)
            rel.schedule(t, 0, np.where(exo, amount, 0.0).astype(float), None)
        if initiative is not None and initiative.acting.any():
            rel.schedule(t, 0, np.where(initiative.acting, initiative.size, 0.0), None)
        if rel.provokes:
            provoked = streams.uniform(t, rel.slots["provoke"]) < rel.p_provoke
            lo, hi = p.provocation_size
            amount = lo if lo == hi else streams.integers(t, rel.slots["provoke_size"], lo, hi)
            first = np.int8(instruments.code_of(p.ladder[0]))
            runs = self.model.n_runs
            rel.schedule(t, 0, np.where(provoked, amount, 0.0).astype(float), np.full(runs, first))

    def _join_allies(self, t: int) -> None:
        """Join allies' own measures (not their solidarity ones, which would echo forever)."""
        model = self.model
        for ally_m, rel, slot_id in self.solidarity_links:
            if not rel.policy.active:
                continue
            acted = model.last.initiative[ally_m] > 0
            if not acted.any():
                continue
            joins = acted & (model.streams.uniform(t, slot_id) < self.solidarity)
            rel.intent_joined = np.where(joins, float(self.solidarity_size), rel.intent_joined)
            rel.intent_joined_ref = np.where(
                joins, model.last.initiative_ref[ally_m], rel.intent_joined_ref
            )
            ally = np.int16(model.mission_sender[ally_m])
            rel.intent_joined_ally = np.where(joins, ally, rel.intent_joined_ally)
