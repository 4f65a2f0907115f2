"""The escalation model: states (Mesa agents) acting on embassy staff, over a block of runs.

One :class:`EscalationModel` steps a whole block of Monte Carlo runs at once: every
quantity is an array whose last axis is the run. A step has three stages:

1. every :class:`~sim.agents.StateAgent` observes the previous step's announcements
   (through its own perception noise) and decides;
2. the model announces the scenario's events dated in this step and every agent's
   decisions: hostile measures go into the missions' pending buffers with their
   deadlines, conciliatory moves cancel, lift or restore;
3. effects whose deadline is this step are applied, and each run's outcome is judged.

Randomness comes only from :class:`~sim.rng.RunStreams`, so run ``r`` follows the
same trajectory in a block of 1 or of 100,000.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import mesa
import numpy as np

from sim import event_record as er
from sim.agents import Relation, StateAgent
from sim.distributions import ParamDraws
from sim.event_record import EventLog
from sim.measures import NO_LIMIT, VISA_SPAN, Kind, Missions, whole_staff
from sim.outcome_classes import DE_ESCALATION, OUTCOMES, RELAPSE, SPIRAL, UNRESOLVED
from sim.policies import COMMON_PARAMS
from sim.rng import RunStreams, slot
from sim.scenario import EventSpec, Scenario

__all__ = ["OUTCOMES", "BlockResult", "EscalationModel"]

# Plain ints for the hot paths (an IntEnum member lookup costs a Python call).
_EXPEL, _CLOSE_CONSULATE = int(Kind.EXPEL), int(Kind.CLOSE_CONSULATE)


@dataclass
class BlockResult:
    """Per-run results of one block."""

    runs: np.ndarray  # global run indices
    outcome: np.ndarray  # int8 codes into OUTCOMES
    outcome_step: np.ndarray  # step at which the outcome was reached (-1: unresolved)
    calm_step: np.ndarray  # step at which the run first calmed (-1: never), any class
    final_staff: np.ndarray  # (missions, runs) total staff at the horizon
    #: (states, runs): staff removed from each state's missions since the forecast start,
    #: and the hostile and conciliatory measures each state took in the forecast.
    staff_lost: np.ndarray
    hostile_acts: np.ndarray
    conciliatory_acts: np.ndarray
    offer_accepted: np.ndarray  # bool: a conditional offer was accepted
    closed_mission: np.ndarray  # index of the watched mission whose closure made the spiral (-1)
    trajectories: np.ndarray | None  # (steps, missions, runs) total staff after each step
    #: The event record of the block's runs (sim.event_record), with keep_events.
    events: object = None
    #: Per-run values of parameters drawn from distributions (or given), by dotted path.
    drawn: dict[str, np.ndarray] = field(default_factory=dict)


class EscalationModel(mesa.Model):
    """States acting on each other's embassy staff, for a block of Monte Carlo runs.

    Parameters
    ----------
    scenario:
        A validated :class:`~sim.scenario.Scenario`.
    runs:
        Global indices of the runs to simulate (default: ``range(scenario.runs)``).
    seed:
        Overrides the scenario seed.
    keep_trajectories:
        Keep every mission's total staff after every step.
    keep_events:
        Return the event record (every announced measure and conciliatory move of every
        run, :mod:`sim.event_record`) with the result. The record is kept while the
        block runs in any case: it tells a state which of the acts it meant to answer
        were withdrawn before they took effect.
    param_values:
        Per-run values for this block's runs (one per run, in the order of ``runs``),
        keyed by dotted path as in scenarios: ``states.<id>.policy.<key>``,
        ``states.<id>.toward.<other>.<key>`` (which takes precedence over the ``policy``
        path for that relation) or ``missions.<id>.diplomats|local_staff|consulates``.
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

        depth = 2
        for ev in scenario.events:
            depth = max(depth, ev.deadline_step - ev.step + 1)
        for st in scenario.states.values():
            for values in st.policies.values():
                notice = values.get("notice", COMMON_PARAMS["notice"].default)
                depth = max(depth, notice + 1)
        initial = [
            {
                "diplomats": m.diplomats,
                "local_staff": m.local_staff,
                "consulates": m.consulates,
                "staff_per_consulate": m.staff_per_consulate,
                "cap": NO_LIMIT if m.cap is None else m.cap,
                "local_hire_ceiling": NO_LIMIT
                if m.local_hire_ceiling is None
                else m.local_hire_ceiling,
            }
            for m in specs
        ]
        per_run = [
            self.draws.mission_columns(m.id, fields)
            for m, fields in zip(specs, initial, strict=True)
        ]
        self.missions = Missions(initial, self.n_runs, depth)
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

        m, r = len(self.mission_ids), self.n_runs
        # What was announced this step, and last step (what agents observe now).
        self.ann_size = np.zeros((m, r))
        self.ann_kind = np.zeros((m, r), dtype=np.int8)
        self.ann_largest = np.zeros((m, r))  # size of the largest single act (for its kind)
        self.ann_concil = np.zeros((m, r))
        self.ann_initiative = np.zeros((m, r))  # hostile acts other than solidarity ones
        self.prev_size = np.zeros((m, r))
        self.prev_initiative = np.zeros((m, r))
        self.prev_kind = np.zeros((m, r), dtype=np.int8)
        self.prev_concil = np.zeros((m, r))
        # Event-record rows of the largest act announced on each mission (this step and
        # the last), of the latest own initiative and of the latest conciliatory move:
        # what an answer, a solidarity measure or a reciprocation refers to.
        self.ann_ref = np.full((m, r), -1, dtype=np.int64)
        self.prev_ref = np.full((m, r), -1, dtype=np.int64)
        self.ann_initiative_ref = np.full((m, r), -1, dtype=np.int64)
        self.prev_initiative_ref = np.full((m, r), -1, dtype=np.int64)
        self.ann_concil_ref = np.full((m, r), -1, dtype=np.int64)
        self.prev_concil_ref = np.full((m, r), -1, dtype=np.int64)
        if scenario.recall_days == 0:
            self.recall_from = dt.date.max  # nothing recalled
        elif (scenario.forecast_start - dt.date.min).days <= scenario.recall_days:
            self.recall_from = dt.date.min
        else:
            self.recall_from = scenario.forecast_start - dt.timedelta(days=scenario.recall_days)
        self.recalled_size = np.zeros((m, r))
        self.recalled_largest = np.zeros((m, r))
        self.recalled_kind = np.zeros((m, r), dtype=np.int8)
        self.recalled_ref = np.full((m, r), -1, dtype=np.int64)

        self.watched = np.array([m_index[mid] for mid in scenario.outcomes.missions], dtype=int)
        self.outcome = np.zeros(r, dtype=np.int8)
        self.outcome_step = np.full(r, -1, dtype=np.int32)
        # First-passage steps over the forecast (-1: not yet), from which the outcome
        # class is read (sim.outcome_classes): closure, calm, a hostile act after calm.
        self.spiral_step = np.full(r, -1, dtype=np.int32)
        self.calm_step = np.full(r, -1, dtype=np.int32)
        self.relapse_step = np.full(r, -1, dtype=np.int32)
        self.last_hostile = np.zeros(r, dtype=np.int64)
        self.lost_at_forecast = np.zeros((m, r), dtype=np.int64)
        self.below_level_at_forecast = np.zeros(r, dtype=bool)
        self.hostile_acts = np.zeros((len(self.state_ids), r), dtype=np.int32)
        self.conciliatory_acts = np.zeros((len(self.state_ids), r), dtype=np.int32)
        self.offer_accepted = np.zeros(r, dtype=bool)
        self.closed_mission = np.full(r, -1, dtype=np.int16)
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
            self.prev_size += self.recalled_size
            self.prev_initiative += self.recalled_size
            recalled = self.recalled_largest > 0
            self.prev_kind = np.where(recalled, self.recalled_kind, self.prev_kind).astype(np.int8)
            self.prev_ref = np.where(recalled, self.recalled_ref, self.prev_ref)
            self.prev_initiative_ref = np.where(
                recalled, self.recalled_ref, self.prev_initiative_ref
            )
            self.lost_at_forecast = self.missions.removed.copy()
            level = self.scenario.outcomes.restored_level
            if level is not None and len(self.watched):
                below = self.missions.totals()[self.watched] < level
                self.below_level_at_forecast = below.any(axis=0)
        self.agents.do("decide")
        self._announce_events(t)
        self._announce_decisions(t)
        executed = self.missions.apply_due(t)
        self._log_effects(t)
        self._lapse_offers(executed, t)
        if t >= self.forecast_step:
            self._judge(t)
        if self.trajectories is not None:
            self.trajectories[t] = self.missions.totals()
        if self.log.withdrawn_now and self.log.step_now == t:
            self._forget_withdrawn()
        self.prev_size, self.ann_size = self.ann_size, self.prev_size
        self.prev_kind, self.ann_kind = self.ann_kind, self.prev_kind
        self.prev_concil, self.ann_concil = self.ann_concil, self.prev_concil
        self.prev_initiative, self.ann_initiative = self.ann_initiative, self.prev_initiative
        self.prev_ref, self.ann_ref = self.ann_ref, self.prev_ref
        self.prev_initiative_ref, self.ann_initiative_ref = (
            self.ann_initiative_ref,
            self.prev_initiative_ref,
        )
        self.prev_concil_ref, self.ann_concil_ref = self.ann_concil_ref, self.prev_concil_ref
        self.ann_ref[:] = -1
        self.ann_initiative_ref[:] = -1
        self.ann_concil_ref[:] = -1
        self.ann_initiative[:] = 0.0
        self.ann_size[:] = 0.0
        self.ann_kind[:] = 0
        self.ann_largest[:] = 0.0
        self.ann_concil[:] = 0.0
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
            events=self.events() if self.keep_events else None,
            drawn=dict(self.drawn),
        )

    def announcements(self) -> tuple[np.ndarray, np.ndarray]:
        """Per step, mission and run: the staff-equivalents of the hostile acts the states
        perceived, and the instrument of the largest, read from the event record (as
        calibration and the backtest compare them with the record of history)."""
        return self.log.announced(self.n_steps, len(self.mission_ids))

    def events(self):
        """The block's event record as a table (:mod:`sim.event_record`)."""
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
        if not joined:
            self.ann_initiative[m] += size
            self.ann_initiative_ref[m] = np.where(size > 0, rows, self.ann_initiative_ref[m])
        bigger = size > self.ann_largest[m]
        self.ann_ref[m] = np.where(bigger, rows, self.ann_ref[m])
        self.ann_kind[m] = np.where(bigger, kind, self.ann_kind[m])
        self.ann_largest[m] = np.maximum(self.ann_largest[m], size)
        self.ann_size[m] += size
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
        expel, close = kind == _EXPEL, kind == _CLOSE_CONSULATE
        counted = expel | close
        fate: np.ndarray | int = er.PENDING
        nominal: np.ndarray | float = np.inf
        if counted.any():
            fate = np.where(counted & (size <= 0), np.int8(er.NOT_FEASIBLE), np.int8(er.PENDING))
            nominal = np.where(counted, size, np.inf)
            # Expulsions and closures are recorded as far as they could go: the staff and
            # posts there were left to act on, not the number asked for.
            per_post = max(int(self.missions.per_post[m, 0]), 1)
            amount = np.where(expel, size, np.where(close, size / per_post, amount))
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
            for m in np.nonzero((amount > 0).any(axis=1))[0]:
                where = amount[m] > 0
                if key == Kind.VISA_DENIAL:
                    ref = self.log.visa_row[m]
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
            if ev.kind in (Kind.CANCEL, Kind.LIFT, Kind.RESTORE, Kind.OFFER):
                self._conciliate_event(ev, m, t, observed)
                continue
            count = {
                Kind.EXPEL: ev.size,
                Kind.CLOSE_CONSULATE: ev.size,
                Kind.CAP: ev.level,
                Kind.BAN_LOCAL_HIRES: ev.level,
                Kind.VISA_DENIAL: ev.rate,
                Kind.SUSPEND: 0,
            }[ev.kind]
            kind = np.full(self.n_runs, ev.kind, dtype=np.int8)
            counts = np.full(self.n_runs, count)
            size = self.missions.announce(m, kind, counts, ev.deadline_step, hostile=not ev.own)
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
            self.ann_size[m] = 0.0
            self.ann_largest[m] = 0.0
            self.ann_kind[m] = 0
            self.ann_ref[m] = -1
            self.ann_initiative[m] = 0.0
            self.ann_initiative_ref[m] = -1
            for cols, size, kind, rows, joined in self.log.perceived_now(m):
                self.ann_size[m, cols] += size
                bigger = size > self.ann_largest[m, cols]
                self.ann_kind[m, cols[bigger]] = kind[bigger]
                self.ann_ref[m, cols[bigger]] = rows[bigger]
                self.ann_largest[m, cols] = np.maximum(self.ann_largest[m, cols], size)
                own = ~joined & (size > 0)
                self.ann_initiative[m, cols[~joined]] += size[~joined]
                self.ann_initiative_ref[m, cols[own]] = rows[own]

    def _recall(self, m: int, size: np.ndarray, kind: Kind, t: int, rows: np.ndarray) -> None:
        """Keep a recent act of the history for the policies to perceive at the forecast.

        An act dated before the forecast start but announced in its first step (the step
        holds both dates) goes straight into this step's announcements, seen next step.
        """
        if t >= self.forecast_step:
            largest, kinds, total = self.ann_largest, self.ann_kind, self.ann_size
            refs = self.ann_ref
            self.log.observe(rows)
            self.ann_initiative[m] += size
            self.ann_initiative_ref[m] = np.where(size > 0, rows, self.ann_initiative_ref[m])
        else:
            largest, kinds, total = self.recalled_largest, self.recalled_kind, self.recalled_size
            refs = self.recalled_ref
        bigger = size > largest[m]
        kinds[m] = np.where(bigger, kind, kinds[m])
        refs[m] = np.where(bigger, rows, refs[m])
        largest[m] = np.maximum(largest[m], size)
        total[m] += size

    def _conciliate_event(self, ev: EventSpec, m: int, t: int, observed: bool) -> None:
        rel = self.state_agents[ev.actor].relations.get(ev.target)
        everywhere = np.ones(self.n_runs, dtype=bool)
        actor = self.state_index[ev.actor]
        common = {"actor": actor, "event_index": ev.index}
        if ev.kind == Kind.CANCEL:
            had_pending = self.missions.pending_hostile[m] > 0
            called_off = self._cancel(m, everywhere, t)
            rows = self._log_move(m, t, everywhere, Kind.CANCEL, called_off, er.EVENT, **common)
            size = np.maximum(called_off, 1).astype(float)
            if observed and rel is not None and rel.act_m == m:
                self._accept_offer(rel, had_pending, t, rows)
        elif ev.kind == Kind.LIFT:
            kind = Kind.from_label(ev.lifts)
            what = {"cap": "cap", "ban_local_hires": "ceiling", "visa_denial": "visa_rate"}[
                ev.lifts
            ]
            arr = getattr(self.missions, what)
            arr[m] = 0.0 if what == "visa_rate" else NO_LIMIT
            self.log.lift(m, {kind: everywhere}, t)
            rows = self._log_move(m, t, everywhere, Kind.LIFT, 0.0, er.EVENT, **common)
            size = np.ones(self.n_runs)
        elif ev.kind == Kind.RESTORE:
            self.missions.restore(m, np.full(self.n_runs, ev.size), ev.deadline_step)
            rows = self._log_move(
                m,
                t,
                everywhere,
                Kind.RESTORE,
                float(ev.size),
                er.EVENT,
                deadline=ev.deadline_step,
                fate=er.PENDING,
                waits=True,
                **common,
            )
            size = np.full(self.n_runs, float(ev.size))
        else:  # OFFER
            size = np.maximum(
                self.missions.pending_expel[m]
                + self.missions.pending_posts[m] * np.maximum(self.missions.per_post[m], 1),
                1,
            ).astype(float)
            rows = self._log_move(
                m, t, everywhere, Kind.OFFER, size, er.EVENT, fate=er.PENDING, **common
            )
            if rel is not None:
                rel.offer_open[:] = True
                rel.offer_row = rows
        if observed:
            self._note_conciliation(m, size, rows)
            if rel is not None:
                rel.conciliated[:] = True

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
                expel = np.where(joined >= 1, np.int8(Kind.EXPEL), np.int8(Kind.NONE))
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
                self._record(m, announced, np.int8(Kind.EXPEL), t, rows, joined=True)
            size = rel.intent_size
            count = whole_staff(size)
            acting = count >= 1
            if not acting.any():
                continue
            kind = self._choose_instrument(rel, m, rel.intent_kind, acting, count)
            total = missions.total(m) - missions.pending_expel[m]
            local = np.minimum(missions.local[m], missions.ceiling[m])
            per_post = np.maximum(missions.per_post[m], 1)
            level_cap = np.maximum(total - count, 0)
            level_ban = np.maximum(local - count, 0)
            posts = np.maximum(np.ceil(count / per_post), 1)
            rate = count / VISA_SPAN
            amount = np.select(
                [
                    kind == Kind.CAP,
                    kind == Kind.BAN_LOCAL_HIRES,
                    kind == Kind.CLOSE_CONSULATE,
                    kind == Kind.VISA_DENIAL,
                ],
                [level_cap, level_ban, posts, rate],
                default=count,
            )
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
        feasible = dict(missions.feasible(m))
        net_total = missions.total(m) - missions.pending_expel[m]
        suspend_as_substitute = feasible[Kind.SUSPEND] & (net_total <= count)
        chosen = np.zeros(self.n_runs, dtype=np.int8)
        pref_ok = np.zeros(self.n_runs, dtype=bool)
        for kind, ok in feasible.items():
            here = acting & (preferred == kind) & ok
            chosen[here] = kind
            pref_ok |= here
        pending = acting & ~pref_ok
        if pending.any():
            feasible[Kind.SUSPEND] = suspend_as_substitute
            pref_rank = rel.rank[preferred]
            ladder = [Kind.from_label(label) for label in rel.policy.ladder]
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

    def _note_conciliation(self, m: int, size: np.ndarray, rows: np.ndarray) -> None:
        """Note conciliatory moves by the host of mission m (size 0: none), for observers."""
        self.ann_concil[m] += size
        self.ann_concil_ref[m] = np.where(size > 0, rows, self.ann_concil_ref[m])
        self.conciliatory_acts[self.mission_host[m]] += size > 0

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
        """Update the first-passage steps with step t, and each run's outcome class.

        Closure is checked at every step, whatever the run's class so far (a spiral is
        absorbing); a calm counts once, and a hostile act after it makes a relapse.
        """
        oc = self.scenario.outcomes
        missions = self.missions
        totals = missions.totals()
        open_spiral = self.spiral_step < 0
        if len(self.watched) and open_spiral.any():
            watched_totals = totals[self.watched]
            shut = (watched_totals <= oc.closure_threshold) | missions.suspended[self.watched]
            newly = open_spiral & shut.any(axis=0)
            first = np.argmax(shut, axis=0)
            self.closed_mission[newly] = self.watched[first[newly]]
            self.spiral_step[newly] = t
        calmed = self.calm_step >= 0
        flared = calmed & (self.relapse_step < 0) & (self.last_hostile > self.calm_step)
        self.relapse_step[flared] = t
        waiting = ~calmed & (self.spiral_step < 0)
        if waiting.any():
            calm = np.zeros(self.n_runs, dtype=bool)
            if oc.quiet:
                calm = (t - self.last_hostile >= oc.quiet_steps) & (
                    missions.pending_hostile.sum(axis=0) == 0
                )
                if oc.require_reciprocation:
                    calm &= self.reciprocated()
            if oc.restored_level is not None and len(self.watched):
                # Restored: back at the level, in runs where some mission was below it
                # when the forecast started (otherwise nothing was restored).
                back = (totals[self.watched] >= oc.restored_level).all(axis=0)
                calm |= back & self.below_level_at_forecast
            self.calm_step[waiting & calm] = t

    def _classify(self) -> None:
        """Each run's outcome class and its step, from the first-passage steps so far.

        Called once the block has run: a class is only final at the horizon.
        """
        spiral = self.spiral_step >= 0
        relapse = ~spiral & (self.relapse_step >= 0)
        calm = ~spiral & ~relapse & (self.calm_step >= 0)
        self.outcome = np.select(
            [spiral, relapse, calm], [SPIRAL, RELAPSE, DE_ESCALATION], UNRESOLVED
        ).astype(np.int8)
        self.outcome_step = np.select(
            [spiral, relapse, calm], [self.spiral_step, self.relapse_step, self.calm_step], -1
        ).astype(np.int32)

    def reciprocated(self) -> np.ndarray:
        """Runs in which some pair of states have both made a conciliatory move."""
        out = np.zeros(self.n_runs, dtype=bool)
        for rel in self.relations:
            other = self.reverse[id(rel)]
            if other is not None:
                out |= rel.conciliated & other.conciliated
        return out
