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
from sim.policies import NO_PREFERENCE_INSTRUMENT, Observation, Policy, make_policy

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
        self.slots = {name: slot(name, actor, target) for name in _SLOTS}
        self._policy_slots: dict[str, int] = {}
        # Decisions waiting for their announcement step (ring buffer over the lag).
        self.sched_size = np.zeros((self.depth, runs))
        self.sched_kind = np.zeros((self.depth, runs), dtype=np.int8)
        self.sched_concil = np.zeros((self.depth, runs))
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
        self.intent_concil = np.zeros(runs)
        self.intent_joined = np.zeros(runs)  # staff expelled in solidarity with an ally
        self.intent_cause = np.zeros(runs, dtype=np.int8)
        self.intent_ref = np.full(runs, -1, dtype=np.int64)
        self.intent_concil_cause = np.zeros(runs, dtype=np.int8)
        self.intent_concil_ref = np.full(runs, -1, dtype=np.int64)
        self.intent_joined_ref = np.full(runs, -1, dtype=np.int64)
        self.intent_joined_ally = np.full(runs, -1, dtype=np.int16)

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
    ) -> None:
        """Queue decisions for announcement ``lag`` steps from now (size 0 = nothing).

        ``kind`` None queues a conciliatory move. ``cause`` and ``ref`` (per run, or one
        for all) say why: see :mod:`sim.engine.event_record`.
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
        causes[rows, cols] = np.where(first, cause, causes[rows, cols])
        refs[rows, cols] = np.where(first, ref, refs[rows, cols])
        sizes[rows, cols] += size[cols]

    def pop(self, step: int) -> None:
        """Move the decisions due now into this step's intentions."""
        row = step % self.depth
        self.intent_size = self.sched_size[row].copy()
        self.intent_kind = self.sched_kind[row].copy()
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
        answers = (self.sched_cause == ANSWER) & (self.sched_size > 0) & runs[None, :]
        if not answers.any():
            return
        gone = answers & withdrawn(self.sched_ref)
        self.sched_size[gone] = 0.0
        self.sched_kind[gone] = 0
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
        size, kind = self._apply_rule(rel, t, obs)
        size, reciprocating = self._reciprocate(rel, t, seen, size)
        self._schedule_answers(rel, t, seen, size, kind, reciprocating)
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
            own_total = model.missions.total(rel.obs_m) - model.missions.pending_expel[rel.obs_m]
        else:
            answered = reciprocated = np.full(runs, -1, dtype=np.int64)
            true_size = np.zeros(runs)
            seen_kind = np.zeros(runs, dtype=np.int8)
            concil_seen = np.zeros(runs)
            own_total = np.zeros(runs, dtype=np.int32)
        if rel.act_m >= 0:
            their_total = model.missions.total(rel.act_m) - model.missions.pending_expel[rel.act_m]
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

    def _apply_rule(self, rel: Relation, t: int, obs: Observation) -> tuple[np.ndarray, np.ndarray]:
        """The policy's answer: sizes (float, runs) and instruments (int8 Kind, runs).

        No preference (``Kind.NONE``) becomes :data:`~sim.policies.NO_PREFERENCE_INSTRUMENT`;
        then, with probability ``escalate_instrument``, the next rung of the ladder up.
        """
        p = rel.policy
        response = p.checked_response(obs)
        size = response.size
        kind = response.instrument
        kind = np.where(kind == Kind.NONE, np.int8(NO_PREFERENCE_INSTRUMENT), kind).astype(np.int8)
        if rel.escalates:
            shift = self.model.streams.uniform(t, rel.slots["escalate"]) < p.escalate_instrument
            kind = np.where(shift, rel.next_rung[kind], kind).astype(np.int8)
        return size, kind

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
    ) -> None:
        """Queue the answers and reciprocations, each with probability ``respond_prob``
        (answers only) and after the relation's lag."""
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
            lag = streams.integers(t, rel.slots["lag"], rel.lag_min, rel.lag_max)
        # An answer to what was perceived, else the policy's own move (e.g. grim's).
        perceived = seen.perceived
        cause = np.where(perceived > 0, np.int8(ANSWER), np.int8(INITIATIVE))
        ref = np.where(perceived > 0, seen.answered, -1)
        rel.schedule(t, lag, np.where(acting, size, 0.0), kind, cause, ref)
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
