"""The escalation model: states (Mesa agents) acting on embassy staff, over a block of runs.

One :class:`EscalationModel` steps a whole block of Monte Carlo runs at once: every
quantity is an array whose last axis is the run. A step has three stages:

1. every :class:`~sim.engine.agents.StateAgent` observes the previous step's announcements
   (through its own perception noise) and decides;
2. the model announces the scenario's events dated in this step and every agent's
   decisions: hostile measures go into the missions' pending buffers with their
   deadlines, conciliatory moves cancel, lift or restore;
3. effects whose deadline is this step are applied, and each run's outcome is judged.

Randomness comes only from :class:`~sim.engine.rng.RunStreams`, so run ``r`` follows the
same trajectory in a block of 1 or of 100,000.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import field, make_dataclass

import mesa
import numpy as np

from sim import run_fields
from sim.distributions import ParamDraws
from sim.engine import event_record as er
from sim.engine import instruments
from sim.engine.agents import Relation, StateAgent
from sim.engine.event_record import EventLog
from sim.engine.missions import NO_LIMIT, Kind, Missions, whole_staff
from sim.engine.rng import RunStreams, slot
from sim.engine.state import Announcements
from sim.outcome_classes import DE_ESCALATION as DE_ESCALATION  # built-in codes, re-exported
from sim.outcome_classes import (
    OUTCOMES,
    OutcomeView,
    outcome_class,
    scenario_outcome_names,
)
from sim.outcome_classes import RELAPSE as RELAPSE
from sim.outcome_classes import SPIRAL as SPIRAL
from sim.outcome_classes import UNRESOLVED as UNRESOLVED
from sim.policies import COMMON_PARAMS
from sim.spec import EventSpec, Scenario

__all__ = ["OUTCOMES", "BlockResult", "EscalationModel"]

#: Allies join each other's measures by expelling ``solidarity_size`` diplomats
#: (docs/scenario-format.md, ``solidarity``).
_SOLIDARITY = instruments.code_of("expel")


BlockResult = make_dataclass(
    "BlockResult",
    [
        ("runs", np.ndarray),  # global run indices
        # One array per per-run field of sim.run_fields (outcome, outcome_step,
        # calm_step, ..., final_staff): (runs,), (missions, runs) or (states, runs).
        *run_fields.dataclass_fields(),
        ("trajectories", np.ndarray | None),  # (steps, missions, runs) staff after each step
        # The outcome names the codes in ``outcome`` index (sim.outcome_classes).
        ("outcome_names", tuple, field(default=OUTCOMES)),
        # The event record of the block's runs (sim.engine.event_record), with keep_events.
        ("events", object, field(default=None)),
        # Per-run values of parameters drawn from distributions (or given), by dotted path.
        ("drawn", dict, field(default_factory=dict)),
    ],
    namespace={"__doc__": "Per-run results of one block.", "__module__": __name__},
)


def ring_depth(scenario: Scenario) -> int:
    """Depth of the pending-measure ring buffers: one more than the longest delay from an
    announcement to its effect (an event's deadline, an ultimatum's consequence, a
    policy's notice). The memory estimate (sim.analysis.resources) asks the same."""
    depth = 2
    for ev in scenario.events:
        # An ultimatum's consequence has its own deadline, after the event's.
        depth = max(depth, instruments.by_code(ev.kind).ring_depth(ev, scenario.step_days))
    for st in scenario.states.values():
        for values in st.policies.values():
            depth = max(depth, values.get("notice", COMMON_PARAMS["notice"].default) + 1)
    return depth


class EscalationModel(mesa.Model):
    """States acting on each other's embassy staff, for a block of Monte Carlo runs.

    Parameters
    ----------
    scenario:
        A validated :class:`~sim.spec.Scenario`.
    runs:
        Global indices of the runs to simulate (default: ``range(scenario.runs)``).
    seed:
        Overrides the scenario seed.
    keep_trajectories:
        Keep every mission's total staff after every step.
    keep_events:
        Return the event record (every announced measure and conciliatory move of every
        run, :mod:`sim.engine.event_record`) with the result. The record is kept while the
        block runs in any case: it tells a state which of the acts it meant to answer
        were withdrawn before they took effect.
    param_values:
        Per-run values for this block's runs (one per run, in the order of ``runs``),
        keyed by dotted path as in scenarios: ``states.<id>.policy.<key>``,
        ``states.<id>.toward.<other>.<key>`` (which takes precedence over the ``policy``
        path for that relation) or
        ``missions.<id>.diplomats|admin_technical|local_staff|consulates``.
        They replace the scenario's value or distribution there. Parameters written as
        distributions are drawn per run (:mod:`sim.distributions`); every per-run
        value used is in ``drawn`` and in the :class:`BlockResult`.
    """

    def __init__(
        self,
        scenario: Scenario,
        runs: np.ndarray | None = None,
        seed: int | None = None,
        keep_trajectories: bool = False,
        param_values: dict[str, np.ndarray] | None = None,
        keep_events: bool = False,
    ) -> None:
        seed = scenario.seed if seed is None else int(seed)
        # Mesa's own generators are seeded from the scenario too, though the model draws
        # all its numbers from RunStreams.
        super().__init__(rng=seed)
        self.scenario = scenario
        self.seed = seed
        self.run_ids = np.arange(scenario.runs) if runs is None else np.asarray(runs)
        self.n_runs = len(self.run_ids)
        self.streams = RunStreams(seed, self.run_ids)
        self.draws = ParamDraws(self.streams, self.n_runs, param_values)
        self.drawn = self.draws.drawn
        self.t = 0
        self.forecast_step = scenario.forecast_step
        self.n_steps = scenario.n_steps

        self.state_ids = list(scenario.states)
        self.mission_ids = list(scenario.missions)
        m_index = {mid: i for i, mid in enumerate(self.mission_ids)}
        by_pair = {(m.sender, m.host): m_index[m.id] for m in scenario.missions.values()}
        specs = list(scenario.missions.values())
        self.mission_sender = np.array([self.state_ids.index(m.sender) for m in specs])

        depth = ring_depth(scenario)
        initial = [
            {
                "diplomats": m.diplomats,
                "admin_technical": m.admin_technical,
                "local_staff": m.local_staff,
                "consulates": m.consulates,
                "staff_per_consulate": m.staff_per_consulate,
                "cap": NO_LIMIT if m.cap is None else m.cap,
                "local_hire_ceiling": NO_LIMIT
                if m.local_hire_ceiling is None
                else m.local_hire_ceiling,
                # Fields that instrument plugins add to missions (their staff pools).
                **getattr(m, "extra", {}),
            }
            for m in specs
        ]
        per_run = [
            self.draws.mission_columns(m.id, fields)
            for m, fields in zip(specs, initial, strict=True)
        ]
        # A parity cap takes its level from the counterpart: the mission of this
        # mission's host in its sender.
        counterpart = [by_pair.get((m.host, m.sender), -1) for m in specs]
        self.missions = Missions(
            initial, self.n_runs, depth, weights=scenario.staff_weights, counterpart=counterpart
        )
        self.missions.track_effects = True
        self.log = EventLog(self.n_runs, len(specs))
        self.keep_events = keep_events
        self.state_index = {sid: i for i, sid in enumerate(self.state_ids)}
        for i, columns in enumerate(per_run):
            for column, values in columns.items():
                getattr(self.missions, column)[i] = values

        self.state_agents: dict[str, StateAgent] = {}
        for index, sid in enumerate(self.state_ids):
            agent = StateAgent(self, sid, index)
            spec = scenario.states[sid]
            agent.solidarity = spec.solidarity
            agent.solidarity_size = spec.solidarity_size
            for other, values in spec.policies.items():
                act_m = by_pair.get((other, sid), -1)
                obs_m = by_pair.get((sid, other), -1)
                if act_m < 0 and obs_m < 0:
                    continue
                values = self.draws.policy(sid, other, values)
                agent.relations[other] = Relation(
                    sid, other, act_m, obs_m, values, self.n_runs, scenario.step_days
                )
            self.state_agents[sid] = agent
        self.draws.check_used()
        self.relations: list[Relation] = [
            rel for agent in self.state_agents.values() for rel in agent.relations.values()
        ]
        self.reverse = {
            id(rel): self.state_agents[rel.target].relations.get(rel.actor)
            for rel in self.relations
        }
        for sid, agent in self.state_agents.items():
            for ally in scenario.states[sid].allies:
                for target, rel in agent.relations.items():
                    ally_m = by_pair.get((target, ally), -1)
                    if target != ally and ally_m >= 0 and rel.act_m >= 0:
                        link_slot = slot("solidarity", sid, ally, target)
                        agent.solidarity_links.append((ally_m, rel, link_slot))

        self.events_at: dict[int, list[EventSpec]] = {}
        for ev in scenario.events:
            self.events_at.setdefault(ev.step, []).append(ev)
        self.event_mission = {ev.index: m_index[ev.mission] for ev in scenario.events}
        self._init_event_mechanisms()

        m, r = len(self.mission_ids), self.n_runs
        # What was announced this step, and last step (what agents observe now).
        self.now = Announcements.empty(m, r)
        self.last = Announcements.empty(m, r)
        if scenario.recall_days == 0:
            self.recall_from = dt.date.max  # nothing recalled
        elif (scenario.forecast_start - dt.date.min).days <= scenario.recall_days:
            self.recall_from = dt.date.min
        else:
            self.recall_from = scenario.forecast_start - dt.timedelta(days=scenario.recall_days)
        # Recent acts of history, perceived when the forecast starts.
        self.recalled = Announcements.empty(m, r)

        self.watched = np.array([m_index[mid] for mid in scenario.outcomes.missions], dtype=int)
        self.outcome = np.zeros(r, dtype=np.int8)
        self.outcome_step = np.full(r, -1, dtype=np.int32)
        # One tracker per outcome class the scenario chooses (sim.outcome_classes), in
        # order of precedence, highest first; each records its first-passage steps over
        # the forecast (-1: not yet), from which the class is read at the horizon.
        self.outcome_names = scenario_outcome_names(scenario)
        tracked = [outcome_class(n) for n in self.outcome_names if outcome_class(n).timed]
        tracked.sort(key=lambda c: -c.precedence)
        self.trackers = {c.name: c.tracker(r) for c in tracked}
        self.outcome_view = OutcomeView(self, self.trackers)
        never = np.full(r, -1, dtype=np.int32)  # a class the scenario does not track
        self.spiral_step = getattr(self.trackers.get("spiral"), "first_step", never)
        self.calm_step = getattr(self.trackers.get("de_escalation"), "first_step", never)
        self.relapse_step = getattr(self.trackers.get("relapse"), "first_step", never)
        self.last_hostile = np.zeros(r, dtype=np.int64)
        self.lost_at_forecast = np.zeros((m, r), dtype=np.int64)
        self.hostile_acts = np.zeros((len(self.state_ids), r), dtype=np.int32)
        self.conciliatory_acts = np.zeros((len(self.state_ids), r), dtype=np.int32)
        self.offer_accepted = np.zeros(r, dtype=bool)
        self.closed_mission = getattr(
            self.trackers.get("spiral"), "closed_mission", np.full(r, -1, dtype=np.int16)
        )
        self.mission_host = np.array([self.state_ids.index(m.host) for m in specs])
        self.trajectories = (
            np.zeros((self.n_steps, m, r), dtype=np.int32) if keep_trajectories else None
        )

    # ------------------------------------------------------------------ step
    def step(self) -> None:
        """Advance every run of the block by one step."""
        t = self.t
        if t == self.forecast_step:
            # Acts of the last recall_days of history are perceived now, as if announced
            # in the step before the forecast.
            last, recall = self.last, self.recalled
            last.size += recall.size
            last.initiative += recall.size
            recalled = recall.largest > 0
            last.kind = np.where(recalled, recall.kind, last.kind).astype(np.int8)
            last.ref = np.where(recalled, recall.ref, last.ref)
            last.initiative_ref = np.where(recalled, recall.ref, last.initiative_ref)
            self.lost_at_forecast = self.missions.removed.copy()
            self.outcome_view.new_step()
            for tracker in self.trackers.values():
                tracker.start(self.outcome_view)
        self.agents.do("decide")
        self._announce_events(t)
        if self.proposers and t >= self.forecast_step:
            self._propose_settlements(t)
        self._announce_decisions(t)
        if self.ultimatums_due or self.ending_at:
            self._event_mechanisms_due(t)
        executed = self.missions.apply_due(t)
        self._log_effects(t)
        self._lapse_offers(executed, t)
        if t >= self.forecast_step:
            self._judge(t)
        if self.trajectories is not None:
            self.trajectories[t] = self.missions.totals()
        if self.log.withdrawn_now and self.log.step_now == t:
            self._forget_withdrawn()
        self.last, self.now = self.now, self.last
        self.now.clear()
        self.t += 1
        if self.t >= self.n_steps:
            self.running = False

    def run(self) -> BlockResult:
        """Step to the horizon and return the per-run results."""
        while self.running:
            self.step()
        return self.result()

    def release(self) -> None:
        """Drop what Mesa keeps of this model after its run, so its memory can be freed.

        Mesa 3.3 counts agent ids in a class-level dict keyed by model
        (``mesa.Agent._ids``), which keeps every model ever made alive; later versions
        do not. An ensemble of many blocks calls this after each block.
        """
        ids = getattr(mesa.Agent, "_ids", None)
        if isinstance(ids, dict):
            ids.pop(self, None)
        # The model and its agents refer to each other (a cycle only the cyclic collector
        # frees); dropping the large buffers frees them at once.
        self.missions = None
        self.log = None
        self.relations = []
        self.reverse = {}
        for agent in self.state_agents.values():
            agent.relations = {}
            agent.solidarity_links = []

    def result(self) -> BlockResult:
        self._classify()
        lost = self.missions.removed - self.lost_at_forecast
        by_state = np.zeros((len(self.state_ids), self.n_runs), dtype=np.int64)
        np.add.at(by_state, self.mission_sender, lost)
        return BlockResult(
            runs=self.run_ids,
            outcome=self.outcome.copy(),
            outcome_step=self.outcome_step.copy(),
            calm_step=self.calm_step.copy(),
            final_staff=self.missions.totals().copy(),
            staff_lost=by_state,
            hostile_acts=self.hostile_acts.copy(),
            conciliatory_acts=self.conciliatory_acts.copy(),
            offer_accepted=self.offer_accepted.copy(),
            closed_mission=self.closed_mission.copy(),
            trajectories=self.trajectories,
            outcome_names=self.outcome_names,
            events=self.events() if self.keep_events else None,
            drawn=dict(self.drawn),
        )

    def announcements(self) -> tuple[np.ndarray, np.ndarray]:
        """Per step, mission and run: the staff-equivalents of the hostile acts the states
        perceived, and the instrument of the largest, read from the event record (as
        calibration and the backtest compare them with the record of history)."""
        return self.log.announced(self.n_steps, len(self.mission_ids))

    def events(self):
        """The block's event record as a table (:mod:`sim.engine.event_record`)."""
        sc = self.scenario
        return self.log.frame(
            self.run_ids,
            self.state_ids,
            self.mission_ids,
            sc.date_of,
            {ev.index: ev.date for ev in sc.events},
            self.forecast_step,
        )

    # ----------------------------------------------------------- announcing
    def _record(
        self,
        m: int,
        size: np.ndarray,
        kind: np.ndarray | int,
        t: int,
        rows: np.ndarray,
        joined: bool = False,
    ) -> None:
        """Note a hostile announcement on mission m, for observers next step.

        ``rows`` are its event-record rows per run (-1: none). ``joined`` marks
        solidarity measures, which allies do not join in turn.
        """
        size = np.broadcast_to(size, (self.n_runs,))
        self.log.observe(rows)
        self.now.note_hostile(m, size, kind, rows, initiative=not joined)
        acted = size > 0
        self.last_hostile = np.where(acted, t, self.last_hostile)
        self.hostile_acts[self.mission_host[m]] += acted

    def _block_rows(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Event-record rows per run of the block (-1 where ``cols`` has none)."""
        out = np.full(self.n_runs, -1, dtype=np.int64)
        out[cols] = rows
        return out

    def _log_hostile(
        self,
        m: int,
        t: int,
        kind: np.ndarray,
        amount,
        size: np.ndarray,
        deadline: int,
        cause,
        ref=-1,
        *,
        actor: int | None = None,
        ally=-1,
        event_index: int = -1,
        own: bool = False,
    ) -> np.ndarray:
        """Record hostile announcements on mission m (where ``kind`` is not NONE).

        An expulsion or closure that finds nobody left to act on is recorded as not
        feasible. Returns the rows per run of the block.
        """
        kind = np.broadcast_to(np.asarray(kind, dtype=np.int8), (self.n_runs,))
        cols = np.nonzero(kind != Kind.NONE)[0]
        if not len(cols):
            return np.full(self.n_runs, -1, dtype=np.int64)
        fate: np.ndarray | int = er.PENDING
        nominal: np.ndarray | float = np.inf
        # Expulsions and closures (instruments that count heads) are recorded as far as
        # they could go: the staff and posts there were left to act on, not the number
        # asked for, and as not feasible where that was nobody.
        for instrument in instruments.hostile():
            if not instrument.counts_heads:
                # The level an instrument worked out itself (a parity cap's) is recorded.
                level = self.missions.reached.get(instrument.code)
                if level is not None:
                    amount = np.where(kind == instrument.code, level, amount)
                continue
            counted = kind == instrument.code
            if counted.any():
                # Heads reached, where staff weights make the size differ from them.
                heads = self.missions.reached.get(instrument.code, size)
                fate = np.where(counted & (size <= 0), np.int8(er.NOT_FEASIBLE), fate)
                nominal = np.where(counted, heads, nominal)
                per_post = max(int(self.missions.per_post[m, 0]), 1)
                amount = np.where(
                    counted, instrument.record_amount(heads, amount, per_post), amount
                )
        if not np.isscalar(fate):
            fate = fate.astype(np.int8)
        rows = self.log.add(
            cols,
            step=t,
            actor=self.mission_host[m] if actor is None else actor,
            target=self.mission_sender[m],
            mission=m,
            instrument=kind,
            amount=amount,
            size=size,
            cause=cause,
            cause_row=ref,
            ally=ally,
            event_index=event_index,
            deadline_step=deadline,
            own=own,
            fate=fate,
            nominal=nominal,
        )
        return self._block_rows(cols, rows)

    def _log_move(
        self,
        m: int,
        t: int,
        where: np.ndarray,
        kind: Kind,
        amount,
        cause,
        ref=-1,
        *,
        actor: int | None = None,
        event_index: int = -1,
        deadline: int | None = None,
        fate: int = er.CARRIED_OUT,
        waits: bool = False,
    ) -> np.ndarray:
        """Record a conciliatory move by the host of mission m (or ``actor``) where
        ``where``; returns its rows per run of the block."""
        cols = np.nonzero(where)[0]
        if not len(cols):
            return np.full(self.n_runs, -1, dtype=np.int64)
        amount = np.broadcast_to(np.asarray(amount, dtype=float), (self.n_runs,))
        rows = self.log.add(
            cols,
            step=t,
            actor=self.mission_host[m] if actor is None else actor,
            target=self.mission_sender[m],
            mission=m,
            instrument=int(kind),
            amount=amount,
            size=amount,
            cause=cause,
            cause_row=ref,
            event_index=event_index,
            deadline_step=t if deadline is None else deadline,
            fate=fate,
            nominal=amount,
            waits=waits,
        )
        return self._block_rows(cols, rows)

    def _cancel(self, m: int, runs: np.ndarray, t: int) -> np.ndarray:
        """Cancel the pending hostile measures on mission m where ``runs``.

        The measures are withdrawn before they took effect, so the mission's sender no
        longer answers them: its queued answers to them are dropped. Returns the staff
        called off.
        """
        called_off = self.missions.cancel(m, runs)
        self.log.cancel(m, runs, t)
        victim = self.state_agents[self.state_ids[self.mission_sender[m]]]
        rel = victim.relations.get(self.state_ids[self.mission_host[m]])
        if rel is not None:
            rel.drop_answers(runs, self.log.is_withdrawn)
        return called_off

    def _log_effects(self, t: int) -> None:
        """Carry out in the record what fell due, and attribute this step's staff changes.

        Departures under a visa denial in force are recorded as rows of their own, and a
        change that no measure explains (a cap given in the scenario) as ``standing``, so
        that the record always accounts for every mission's staff.
        """
        left = self.log.apply_due(t, self.missions.effects)
        for key, amount in left.items():
            standing = self.log.standing_row.get(key)
            for m in np.nonzero((amount > 0).any(axis=1))[0]:
                where = amount[m] > 0
                if standing is not None:
                    # Departures under a restriction in force (a visa denial) belong to it.
                    ref = standing[m]
                    cause = np.where(ref >= 0, np.int8(er.DEPARTURE), np.int8(er.STANDING))
                else:
                    ref, cause = -1, er.STANDING
                kind = Kind.RESTORE if key == "restore" else key
                rows = self._log_move(m, t, where, kind, amount[m], cause, ref)
                done = rows[where]
                if key == "restore":
                    self.log.restored[done] = amount[m][where]
                else:
                    self.log.removed[done] = amount[m][where]

    def _announce_events(self, t: int) -> None:
        ones = np.ones(self.n_runs, dtype=bool)
        for ev in self.events_at.get(t, ()):
            m = self.event_mission[ev.index]
            observed = ev.date >= self.scenario.forecast_start and not ev.own
            instrument = instruments.by_code(ev.kind)
            if not instrument.hostile:
                self._conciliate_event(instrument, ev, m, t, observed)
                continue
            count = instrument.event_amount(ev)
            kind = np.full(self.n_runs, ev.kind, dtype=np.int8)
            counts = np.full(self.n_runs, count)
            size = self.missions.announce(
                m, kind, counts, ev.deadline_step, hostile=not ev.own, options=ev.options
            )
            rows = self._log_hostile(
                m,
                t,
                kind,
                counts,
                size,
                ev.deadline_step,
                er.EVENT,
                actor=self.state_index[ev.actor],
                event_index=ev.index,
                own=ev.own,
            )
            if ev.until_step is not None and ev.until_step < self.n_steps:
                self.ending_at.setdefault(ev.until_step, []).append((ev, rows, size))
            if ev.own:
                continue
            if observed:
                self._record(m, size, np.int8(ev.kind), t, rows)
            else:
                self.last_hostile[ones] = t
                if ev.date >= self.recall_from:
                    self._recall(m, size, ev.kind, t, rows)

    def _forget_withdrawn(self) -> None:
        """Acts withdrawn in the step they were announced are perceived by nobody: this
        step's announcements on their missions are made again from those that stand."""
        for m in sorted(self.log.withdrawn_now):
            self.now.forget_hostile(m)
            for cols, size, kind, rows, joined in self.log.perceived_now(m):
                self.now.note_hostile(m, size, kind, rows, cols, initiative=~joined)

    def _recall(self, m: int, size: np.ndarray, kind: Kind, t: int, rows: np.ndarray) -> None:
        """Keep a recent act of the history for the policies to perceive at the forecast.

        An act dated before the forecast start but announced in its first step (the step
        holds both dates) goes straight into this step's announcements, seen next step.
        """
        if t >= self.forecast_step:
            self.log.observe(rows)
            self.now.note_hostile(m, size, kind, rows)
        else:
            self.recalled.note_hostile(m, size, kind, rows, initiative=False)

    def _conciliate_event(self, instrument, ev: EventSpec, m: int, t: int, observed: bool) -> None:
        """A scenario's conciliatory event, carried out by its instrument; the
        counterpart perceives it if it falls in the forecast. An ultimatum, neither
        hostile nor conciliatory, is only carried out."""
        rows, size = instrument.carry_out(self, ev, m, t, observed)
        if not instrument.conciliatory:
            return
        if observed:
            self._note_conciliation(m, size, rows, reverses=instrument.reverses)
            rel = self.relation(ev.actor, ev.target)
            if rel is not None:
                rel.conciliated[:] = True
        elif instrument.reverses:
            # Nobody perceives a move of the history, but it still meets an ultimatum.
            self.concessions[m] += size > 0

    # ------------------------------- temporary measures, ultimatums, settlements
    def _init_event_mechanisms(self) -> None:
        """The bookkeeping of temporary measures, ultimatums and settlements (empty, and
        never looked at in the step loop, when no event uses them)."""
        #: Per step: the temporary measures ending then, as (event, its event-record row
        #: per run, its size at announcement per run).
        self.ending_at: dict[int, list[tuple[EventSpec, np.ndarray, np.ndarray]]] = {}
        #: Per step: the ultimatums whose deadline it is, as (event, mission of the
        #: consequence, row per run, mission on which the target complies (-1: none),
        #: its concessions when the ultimatum was given).
        self.ultimatums_due: dict[int, list[tuple]] = {}
        #: Per mission and run: conciliatory moves by its host that undo something
        #: (cancel, lift, restore, an accepted offer, a settlement; not an offer).
        self.concessions = np.zeros((len(self.mission_ids), self.n_runs), dtype=np.int32)
        #: Relations whose policy proposes settlements (``settle_rate``), with the
        #: counterpart's relation and the probability of a proposal per step.
        self.proposers: list[tuple[Relation, Relation, np.ndarray]] = []
        years = self.scenario.step_days / 365.25
        for rel in self.relations:
            other = self.reverse[id(rel)]
            rate = getattr(rel.policy, "settle_rate", 0.0)
            if other is not None and rel.act_m >= 0 and rel.obs_m >= 0 and np.any(rate > 0):
                self.proposers.append((rel, other, -np.expm1(-rate * years)))

    def _mission_of(self, sender: str, host: str) -> int:
        """The index of ``sender``'s mission in ``host`` (-1: none)."""
        s, h = self.state_index[sender], self.state_index[host]
        found = np.flatnonzero((self.mission_sender == s) & (self.mission_host == h))
        return int(found[0]) if len(found) else -1

    def _event_mechanisms_due(self, t: int) -> None:
        """Ultimatums whose deadline is step t, and temporary measures ending in it,
        after this step's announcements and before its effects (a restore of staff let
        back arrives in this step)."""
        for due in self.ultimatums_due.pop(t, ()):
            self._enforce_ultimatum(*due, t)
        for ev, rows, announced in self.ending_at.pop(t, ()):
            self._end_temporary(ev, rows, announced, t)

    def _end_temporary(self, ev: EventSpec, rows: np.ndarray, announced: np.ndarray, t: int):
        """End a temporary measure (``until``) where it took effect and still holds: its
        instrument lifts the restriction or lets the staff back; the record gets a lift
        or restore row with the cause ``temporary_end``, referring to the measure."""
        m = self.event_mission[ev.index]
        instrument = instruments.by_code(ev.kind)
        known = np.maximum(rows, 0)
        # Not where it was cancelled, found nobody, or was lifted already.
        holds = (rows >= 0) & (self.log.fate[known] == er.CARRIED_OUT)
        if not holds.any():
            return
        removed = np.where(holds, self.log.removed[known], 0)
        actor = self.state_index[ev.actor]
        if instrument.liftable:
            restricted = holds & instrument.restricts(self.missions, m)
        back, restoring = instrument.end_temporary(self.missions, m, holds, announced, removed, t)
        if instrument.liftable:
            self.log.lift(m, {instrument.code: restricted}, t)
            self._log_move(m, t, holds, Kind.LIFT, 0.0, er.TEMPORARY_END, rows, actor=actor)
            return
        # Staff let back at once (posts reopened) are the row's now; a restore's are
        # attributed when it arrives, later in this step.
        fate = np.where(restoring > 0, np.int8(er.PENDING), np.int8(er.CARRIED_OUT))
        ending = self._log_move(
            m, t, holds, Kind.RESTORE, back + restoring, er.TEMPORARY_END, rows,
            actor=actor, fate=fate, waits=True,
        )  # fmt: skip
        now = holds & (back > 0)
        self.log.restored[ending[now]] = back[now]

    def _issue_ultimatum(self, ev: EventSpec, m: int, t: int, observed: bool):
        """Record an ultimatum (pending until its deadline) and, in the forecast, let
        the target comply: with probability ``comply`` its relation toward the issuer
        makes a conciliatory move in the next step. Returns its rows and size 0 (an
        ultimatum is no conciliatory move)."""
        n = self.n_runs
        then = instruments.INSTRUMENTS[ev.options["then"]]
        rows = self.log.add(
            np.arange(n),
            step=t,
            actor=self.state_index[ev.actor],
            target=self.state_index[ev.target],
            mission=m,
            instrument=int(ev.kind),
            amount=float(then.event_amount(ev)),
            size=0.0,  # a demand: nobody perceives it as a hostile act
            cause=er.EVENT,
            event_index=ev.index,
            deadline_step=ev.deadline_step,
            fate=er.PENDING,
            waits=False,
        )
        where = self._mission_of(ev.actor, ev.target)  # where the target complies
        if ev.deadline_step < self.n_steps:
            baseline = self.concessions[where].copy() if where >= 0 else None
            self.ultimatums_due.setdefault(ev.deadline_step, []).append(
                (ev, m, rows, where, baseline)
            )
        rel = self.relation(ev.target, ev.actor)
        if observed and rel is not None and rel.act_m >= 0 and np.any(rel.policy.comply > 0):
            u = self.streams.uniform(t, slot("comply", ev.target, ev.actor, ev.index))
            complying = u < rel.policy.comply
            # Cancel, else lift, else restore as many staff as the ultimatum threatens.
            size = float(max(ev.size or 1, 1))
            rel.schedule(t, 1, np.where(complying, size, 0.0), None, er.ULTIMATUM, rows)
        return rows, np.zeros(n)

    def _ultimatum_notice(self, ev: EventSpec) -> int:
        """Steps from an ultimatum's consequence to its deadline: ``then_notice`` days,
        else the actor's policy ``notice`` toward the target."""
        days = ev.options.get("then_notice")
        if days is not None:
            return max(1, int(days) // self.scenario.step_days)
        rel = self.relation(ev.actor, ev.target)
        return int(rel.policy.notice) if rel is not None else COMMON_PARAMS["notice"].default

    def _enforce_ultimatum(self, ev, m, rows, where, baseline, t: int) -> None:
        """At an ultimatum's deadline: met where the target made a concession on the
        actor's mission since; elsewhere the actor announces the consequence, a hostile
        measure with the cause ``ultimatum`` (perceived if in the forecast)."""
        n = self.n_runs
        met = self.concessions[where] > baseline if where >= 0 else np.zeros(n, dtype=bool)
        self.log.settle(rows, np.flatnonzero(met), er.MET, t)
        firing = ~met
        if not firing.any():
            return
        self.log.settle(rows, np.flatnonzero(firing), er.CARRIED_OUT, t)
        then = instruments.INSTRUMENTS[ev.options["then"]]
        kind = np.where(firing, np.int8(then.code), np.int8(Kind.NONE))
        counts = np.full(n, then.event_amount(ev))
        deadline = t + self._ultimatum_notice(ev)
        size = self.missions.announce(m, kind, counts, deadline)
        consequence = self._log_hostile(
            m, t, kind, counts, size, deadline, er.ULTIMATUM, rows,
            actor=self.state_index[ev.actor],
        )  # fmt: skip
        if t >= self.forecast_step:
            self._record(m, size, kind, t, consequence)
        else:
            self.last_hostile = np.where(firing, t, self.last_hostile)
            if self.scenario.date_of(t) >= self.recall_from:
                self._recall(m, size, kind, t, consequence)

    def _settle(self, ev: EventSpec, m: int, t: int, observed: bool):
        """A scenario's settlement (:meth:`_settle_pair`) in every run. Returns the
        actor's rows and size 0 (it noted both states' moves itself)."""
        n = self.n_runs
        level = np.full(n, int(ev.level))
        everywhere = np.ones(n, dtype=bool)
        rows = self._settle_pair(
            ev.actor, ev.target, level, everywhere, ev.deadline_step, t, observed,
            event_index=ev.index,
        )  # fmt: skip
        return rows, np.zeros(n)

    def _settle_pair(
        self,
        actor: str,
        target: str,
        level: np.ndarray,
        where: np.ndarray,
        deadline: int,
        t: int,
        observed: bool,
        *,
        event_index: int = -1,
        causes: tuple[int, int] = (er.EVENT, er.EVENT),
    ) -> np.ndarray:
        """Both missions of the pair settle at ``level`` from the deadline, where ``where``.

        On each: every pending hostile measure is cancelled (queued answers to them
        dropped); the agreed level replaces any cap (the old one goes now, the new one
        comes through the cap's pending buffer at the deadline, as the sides' own
        measure: no hostile act, and no cancellation withdraws it); staff below the
        level may come back by a restore at the deadline (bounded as restores are).
        Both relations forget their grievance and every queued decision (the round
        ends), and in the forecast the settlement counts as a conciliatory move by
        both states, reciprocated, which neither answers (an answer would lift the
        agreed cap). ``causes``: of the actor's row and of the target's (which refers
        to the actor's). Returns the actor's rows per run (-1: none).
        """
        n = self.n_runs
        cap = instruments.INSTRUMENTS["cap"]
        missions = self.missions
        code = instruments.code_of("settle")
        first = np.full(n, -1, dtype=np.int64)
        pair = (
            (self._mission_of(target, actor), causes[0]),
            (self._mission_of(actor, target), causes[1]),
        )
        for i, (mm, cause) in enumerate(pair):
            if mm < 0:
                continue
            self._cancel(mm, where, t)
            replaced = where & cap.restricts(missions, mm)
            if replaced.any():
                cap.lift(missions, mm, replaced)
                self.log.lift(mm, {cap.code: replaced}, t)
            agreed = np.where(where, np.int8(cap.code), np.int8(Kind.NONE))
            missions.announce(mm, agreed, level, deadline, hostile=False)
            below = np.maximum(level - missions.net_total(mm), 0)
            back = np.where(where, np.minimum(below, np.maximum(missions.restorable(mm), 0)), 0)
            missions.restore(mm, back, deadline)
            rows = self._log_move(
                mm, t, where, code, level, cause, first if i else -1, event_index=event_index,
                deadline=deadline, fate=er.PENDING, waits=True,
            )  # fmt: skip
            # Its row takes every cut of the agreed cap and every return at the deadline.
            self.log.nominal[rows[where]] = np.inf
            if i == 0:
                first = rows
            if observed:
                self._note_conciliation(mm, where.astype(float), rows, perceived=False)
            else:
                self.concessions[mm] += where
        for rel in (self.relation(actor, target), self.relation(target, actor)):
            if rel is None:
                continue
            rel.grievance[where] = 0.0
            self._forget_intentions(rel, where)
            if observed:
                rel.conciliated |= where
        return first

    @staticmethod
    def _forget_intentions(rel: Relation, where: np.ndarray) -> None:
        """Drop, in runs ``where``, every decision ``rel`` has queued and this step's (a
        settlement ends the round: nothing queued before it is announced after it)."""
        for name in ("sched_size", "sched_concil", "intent_size", "intent_concil", "intent_joined"):
            getattr(rel, name)[..., where] = 0.0
        for name in ("sched_kind", "sched_cause", "sched_concil_cause", "intent_kind"):
            getattr(rel, name)[..., where] = 0
        for name in ("sched_ref", "sched_concil_ref"):
            getattr(rel, name)[..., where] = -1

    def _propose_settlements(self, t: int) -> None:
        """Settlements proposed by the policies (``settle_rate`` per year) in the
        forecast, during a round (the proposer perceived hostility since the last
        one): at parity, the smaller of the two missions' totals net of pending
        expulsions, from the proposer's ``notice``. The counterpart accepts with its
        ``reciprocate`` probability. New named draws: ``settle`` and ``settle_accept``."""
        missions = self.missions
        for rel, other, p_settle in self.proposers:
            proposing = (rel.grievance > 0) & (
                self.streams.uniform(t, slot("settle", rel.actor, rel.target)) < p_settle
            )
            if not proposing.any():
                continue
            u = self.streams.uniform(t, slot("settle_accept", rel.target, rel.actor))
            settling = proposing & (u < other.policy.reciprocate)
            if not settling.any():
                continue
            level = np.minimum(missions.net_total(rel.act_m), missions.net_total(rel.obs_m))
            self._settle_pair(
                rel.actor, rel.target, np.maximum(level, 0), settling, t + rel.policy.notice, t,
                True, causes=(er.INITIATIVE, er.RECIPROCATION),
            )  # fmt: skip

    def relation(self, actor: str, target: str) -> Relation | None:
        """``actor``'s relation toward ``target`` (None if it has no policy toward it)."""
        return self.state_agents[actor].relations.get(target)

    def _event_actor(self, ev: EventSpec) -> dict:
        """The event-record fields naming a scenario event's actor and index."""
        return {"actor": self.state_index[ev.actor], "event_index": ev.index}

    def _announce_decisions(self, t: int) -> None:
        missions = self.missions
        # Conciliatory moves first, then the offers they accept, then hostile measures, each
        # stage for every relation: an acceptance cancels the counterpart's pending measures,
        # so doing it inside the loop would make results depend on the order of the states.
        cancellations = []
        for rel in self.relations:
            if rel.act_m >= 0 and (rel.intent_concil > 0).any():
                cancelling, rows = self._conciliate(rel, rel.act_m, t, rel.policy.notice)
                if cancelling.any():
                    cancellations.append((rel, cancelling, rows))
        # A cancellation meets the counterpart's standing offer: it cancels its own.
        for rel, cancelling, rows in cancellations:
            self._accept_offer(rel, cancelling, t, rows)
        for rel in self.relations:
            if rel.act_m < 0:
                continue
            m = rel.act_m
            notice = rel.policy.notice
            if rel.intent_joined.any():
                joined = whole_staff(rel.intent_joined)
                expel = np.where(joined >= 1, np.int8(_SOLIDARITY), np.int8(0))
                announced = missions.announce(m, expel, joined, t + notice)
                rows = self._log_hostile(
                    m,
                    t,
                    expel,
                    joined,
                    announced,
                    t + notice,
                    er.SOLIDARITY,
                    rel.intent_joined_ref,
                    ally=rel.intent_joined_ally,
                )
                self._record(m, announced, np.int8(_SOLIDARITY), t, rows, joined=True)
            size = rel.intent_size
            count = whole_staff(size)
            acting = count >= 1
            if not acting.any():
                continue
            kind = self._choose_instrument(rel, m, rel.intent_kind, acting, count)
            # Each instrument's amount for a decision of ``count`` staff: a level for a
            # cap or ban, posts for closures, a rate for visa denials.
            amount = count
            for instrument in instruments.hostile():
                chosen = kind == instrument.code
                if chosen.any():
                    amount = np.where(chosen, instrument.amount_for(missions, m, count), amount)
            if rel.intent_amount is not None:
                # A channel chosen with its own amount (choice_<instrument>_amount) keeps
                # it where that instrument bites; a ladder's stand-in is sized as above.
                own = (rel.intent_amount >= 0) & (kind == rel.intent_kind)
                if own.any():
                    amount = np.where(own, rel.intent_amount, amount)
            announced = missions.announce(m, kind, amount, t + notice)
            rows = self._log_hostile(
                m, t, kind, amount, announced, t + notice, rel.intent_cause, rel.intent_ref
            )
            # No instrument could bite: the decision is recorded as not feasible.
            blocked = acting & (kind == Kind.NONE)
            if blocked.any():
                cols = np.nonzero(blocked)[0]
                self.log.add(
                    cols,
                    step=t,
                    actor=self.mission_host[m],
                    target=self.mission_sender[m],
                    mission=m,
                    instrument=rel.intent_kind,
                    amount=count,
                    size=0.0,
                    cause=rel.intent_cause,
                    cause_row=rel.intent_ref,
                    deadline_step=t + notice,
                    fate=er.NOT_FEASIBLE,
                )
            self._record(m, announced, kind, t, rows)

    def _choose_instrument(
        self, rel: Relation, m: int, preferred: np.ndarray, acting: np.ndarray, count: np.ndarray
    ) -> np.ndarray:
        """The preferred instrument where it can bite, else the next one up the ladder.

        Climbing the ladder keeps the response's size, so suspension is a substitute only
        where the response would leave no more staff than that anyway.
        """
        missions = self.missions
        chosen = np.zeros(self.n_runs, dtype=np.int8)
        pref_ok = np.zeros(self.n_runs, dtype=bool)
        for instrument in instruments.hostile():
            here = acting & (preferred == instrument.code)
            if here.any():
                here &= instrument.feasible(missions, m)
                chosen[here] = instrument.code
                pref_ok |= here
        pending = acting & ~pref_ok
        if pending.any():
            # Climbing the ladder keeps the response's size (an instrument may stand in
            # only where it would not remove more: see feasible_as_substitute).
            feasible = {
                instrument.code: instrument.feasible_as_substitute(missions, m, count)
                for instrument in instruments.hostile()
            }
            pref_rank = rel.rank[preferred]
            ladder = [instruments.code_of(label) for label in rel.policy.ladder]
            for kind in ladder:
                here = pending & (rel.rank[kind] > pref_rank) & feasible[kind]
                chosen[here] = kind
                pending &= ~here
            # Preferred instrument not on the ladder: take the ladder from its bottom.
            for kind in ladder:
                here = pending & (pref_rank > len(ladder)) & feasible[kind]
                chosen[here] = kind
                pending &= ~here
        return chosen

    def _conciliate(
        self, rel: Relation, m: int, t: int, notice: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Carry out conciliatory moves: cancel what is pending, else lift, else restore.

        Returns the runs in which pending measures were cancelled, and the event-record
        rows of those cancellations.
        """
        missions = self.missions
        want = rel.intent_concil > 0
        has_pending = missions.pending_hostile[m] > 0
        cancelling = want & has_pending
        cause, ref = rel.intent_concil_cause, rel.intent_concil_ref
        size = np.zeros(self.n_runs)
        rows = np.full(self.n_runs, -1, dtype=np.int64)
        cancel_rows = rows
        if cancelling.any():
            called_off = self._cancel(m, cancelling, t)
            cancel_rows = self._log_move(m, t, cancelling, Kind.CANCEL, called_off, cause, ref)
            rows = np.where(cancelling, cancel_rows, rows)
            size += np.where(cancelling, np.maximum(called_off, 1), 0)
        lifting = want & ~cancelling & missions.restricted(m)
        if lifting.any():
            lifted = missions.lift(m, lifting)
            self.log.lift(m, missions.lifted, t)
            lift_rows = self._log_move(m, t, lifted, Kind.LIFT, 0.0, cause, ref)
            rows = np.where(lifted, lift_rows, rows)
            size += np.where(lifted, 1.0, 0.0)
        restoring = want & ~cancelling & ~lifting
        if restoring.any():
            # Only staff that measures removed can be let back in.
            wanted = np.maximum(whole_staff(rel.intent_concil), 1)
            count = np.where(restoring, np.minimum(wanted, missions.restorable(m)), 0)
            restoring &= count >= 1
            missions.restore(m, np.maximum(count, 0), t + notice)
            restore_rows = self._log_move(
                m,
                t,
                restoring,
                Kind.RESTORE,
                np.maximum(count, 0),
                cause,
                ref,
                deadline=t + notice,
                fate=er.PENDING,
                waits=True,
            )
            rows = np.where(restoring, restore_rows, rows)
            size += np.maximum(count, 0)
        made = cancelling | lifting | restoring
        self._note_conciliation(m, np.where(made, np.maximum(size, 1), 0), rows)
        rel.conciliated |= made
        rel.since_conciliation = np.where(want, 0, rel.since_conciliation)
        return cancelling, cancel_rows

    def _accept_offer(
        self, rel: Relation, cancelling: np.ndarray, t: int, cancel_rows: np.ndarray
    ) -> None:
        """``rel``'s state has cancelled its measures where ``cancelling`` (recorded as
        ``cancel_rows``): that accepts the counterpart's standing offer, whose pending
        measures are withdrawn too, with the acceptor's queued answers to them."""
        other = self.reverse[id(rel)]
        if other is not None and other.act_m >= 0:
            accepted = cancelling & other.offer_open
            if accepted.any():
                size_other = self._cancel(other.act_m, accepted, t)
                rows = self._log_move(
                    other.act_m, t, accepted, Kind.CANCEL, size_other, er.OFFER_ACCEPTED,
                    cancel_rows,
                )  # fmt: skip
                self.log.settle_offer(other.offer_row, np.nonzero(accepted)[0], er.ACCEPTED, t)
                self._note_conciliation(
                    other.act_m, np.where(accepted, np.maximum(size_other, 1), 0), rows
                )
                other.conciliated |= accepted
                other.offer_open &= ~accepted
                self.offer_accepted |= accepted

    def _note_conciliation(
        self,
        m: int,
        size: np.ndarray,
        rows: np.ndarray,
        *,
        perceived: bool = True,
        reverses: bool = True,
    ) -> None:
        """Note conciliatory moves by the host of mission m (size 0: none), for observers
        (unless not ``perceived``: a settlement, which is already mutual). A move that
        ``reverses`` something (not an offer) is a concession: it meets an ultimatum."""
        if perceived:
            self.now.note_conciliatory(m, size, rows)
        self.conciliatory_acts[self.mission_host[m]] += size > 0
        if reverses:
            self.concessions[m] += size > 0

    def _lapse_offers(self, executed: np.ndarray, t: int) -> None:
        """An offer lapses once a pending measure of either side has taken effect."""
        for rel in self.relations:
            if not rel.offer_open.any():
                continue
            done = np.zeros(self.n_runs, dtype=bool)
            for m in (rel.act_m, rel.obs_m):
                if m >= 0:
                    done |= executed[m] > 0
            lapsing = rel.offer_open & done
            if lapsing.any():
                self.log.settle_offer(rel.offer_row, np.nonzero(lapsing)[0], er.LAPSED, t)
            rel.offer_open &= ~done

    # -------------------------------------------------------------- outcomes
    def _judge(self, t: int) -> None:
        """Update the first-passage steps of every tracked outcome class with step t.

        In order of precedence, highest first (sim.outcome_classes.OutcomeView.first_step).
        """
        view = self.outcome_view
        view.new_step()
        for tracker in self.trackers.values():
            tracker.update(view, t)

    def _classify(self) -> None:
        """Each run's outcome class and its step: the reached class of highest
        precedence, else unresolved. Called once the block has run: a class is only
        final at the horizon."""
        self.outcome = np.full(self.n_runs, self.outcome_names.index("unresolved"), np.int8)
        self.outcome_step = np.full(self.n_runs, -1, dtype=np.int32)
        for name, tracker in reversed(self.trackers.items()):  # the highest reached wins
            reached = tracker.first_step >= 0
            self.outcome[reached] = self.outcome_names.index(name)
            self.outcome_step[reached] = tracker.first_step[reached]

    def reciprocated(self) -> np.ndarray:
        """Runs in which some pair of states have both made a conciliatory move."""
        out = np.zeros(self.n_runs, dtype=bool)
        for rel in self.relations:
            other = self.reverse[id(rel)]
            if other is not None:
                out |= rel.conciliated & other.conciliated
        return out
