"""The event record: every announced measure and conciliatory move of every run.

The engine steps whole blocks of runs as arrays, so it never holds a Python object per
measure; but an analyst asks of one run who did what, when, of what size, and why. The
:class:`EventLog` is the bridge: each announcement appends one row per run in which it
happened (array operations over the block), and what later becomes of a measure (it is
carried out at its deadline, cancelled, lifted, or an offer accepted or lapsed) is
written into that row when it happens. The staff each measure removed, and each
restore brought back, are attributed to its row when they take effect, so that a
mission's staff after any step equals its starting staff minus what the record says
was removed plus what it says was restored (tested for every run of an ensemble).

Columns of :func:`EventLog.frame` (``Result.events``, ``events.parquet``):

======================  =============================================================
``run``                 global run index
``seq``                 the event's number within its run (0, 1, ... in the order
                        announced); ``cause_seq`` refers to it
``step``, ``date``      when it was announced (``date``: the step's first day, or the
                        scenario event's own date)
``history``             announced before the forecast start (replayed identically)
``actor``, ``target``   the state acting and the state whose mission it concerns
``mission``             the mission acted on (for an offer, the actor's own measures'
                        target mission)
``instrument``          expel, cap, ban_local_hires, close_consulate, visa_denial,
                        suspend, cancel, lift, restore, offer, ultimatum, settle
``amount``              the instrument's own quantity: staff (expel, restore), posts
                        (close_consulate), the level (cap, ban_local_hires), departures
                        per step (visa_denial), staff called off (cancel), the
                        consequence's amount (ultimatum), the agreed level (settle)
``size``                staff-equivalents at announcement (what other states perceive)
``cause``               event (a scenario event; ``event_index``), answer (to the act
                        ``cause_seq``), initiative (the policy's own move: a
                        provocation, GRIT, a spontaneous conciliation), solidarity
                        (with ``ally``, whose act is ``cause_seq``), reciprocation (of
                        the conciliatory move ``cause_seq``), offer_accepted (the
                        offerer withdrawing its measures because ``cause_seq``
                        accepted), departure (staff leaving under the visa denial
                        ``cause_seq``), standing (a restriction in force from the start),
                        ultimatum (the consequence of the ultimatum ``cause_seq``, not
                        met; or a move complying with it), temporary_end (the end of
                        the temporary measure ``cause_seq``: its restriction lifted, or
                        its staff let back)
``deadline_step``,      when the measure takes effect
``deadline``
``fate``                carried_out, cancelled, lifted (carried out, later lifted),
                        not_feasible (nothing left to act on), accepted or lapsed
                        (offers), met (an ultimatum complied with; one not met is
                        carried_out), pending (still waiting at the horizon)
``fate_step``           when the fate was settled (-1 while pending)
``staff_removed``       staff this measure removed when it took effect
``staff_restored``      staff a restore brought back
======================  =============================================================
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.engine import instruments
from sim.engine.kinds import Kind

__all__ = ["CAUSES", "FATES", "EventLog"]

#: Why a row was announced (codes are positions; files store the names).
CAUSES = (
    "event",
    "answer",
    "initiative",
    "solidarity",
    "reciprocation",
    "offer_accepted",
    "departure",
    "standing",
    "ultimatum",
    "temporary_end",
)
(
    EVENT,
    ANSWER,
    INITIATIVE,
    SOLIDARITY,
    RECIPROCATION,
    OFFER_ACCEPTED,
    DEPARTURE,
    STANDING,
    ULTIMATUM,
    TEMPORARY_END,
) = range(len(CAUSES))

#: What became of it.
FATES = (
    "pending",
    "carried_out",
    "cancelled",
    "lifted",
    "not_feasible",
    "accepted",
    "lapsed",
    "met",
)
PENDING, CARRIED_OUT, CANCELLED, LIFTED, NOT_FEASIBLE, ACCEPTED, LAPSED, MET = range(len(FATES))


_INT_COLUMNS = {
    "col": np.int64,  # the run's column in the block
    "step": np.int32,
    "actor": np.int16,
    "target": np.int16,
    "mission": np.int16,
    "instrument": np.int8,
    "cause": np.int8,
    "cause_row": np.int64,  # row of the act answered / reciprocated / accepted (-1)
    "ally": np.int16,
    "event_index": np.int32,
    "deadline_step": np.int32,
    "own": np.bool_,
}
_FLOAT_COLUMNS = ("amount", "size")
_DTYPES = {**_INT_COLUMNS, **dict.fromkeys(_FLOAT_COLUMNS, np.float64)}


def _column(chunk: dict, key: str) -> np.ndarray:
    """A chunk's column as an array of its dtype (a scalar stands for every row)."""
    value = chunk[key]
    if np.ndim(value):
        return np.asarray(value, dtype=_DTYPES[key])
    return np.full(chunk["n"], value, dtype=_DTYPES[key])


class EventLog:
    """Rows appended by the engine, with fates and staff written in place later.

    Rows are identified by their position (``row``) in the block's log; the columns
    that change after a row is written (fate, fate step, staff removed and restored)
    live in growable arrays so that updating them is an indexed assignment.
    """

    def __init__(self, n_runs: int, n_missions: int) -> None:
        self.n_runs = n_runs
        self._chunks: list[dict[str, np.ndarray]] = []
        self.n_rows = 0
        cap = 1024
        self.fate = np.zeros(cap, dtype=np.int8)
        self.fate_step = np.full(cap, -1, dtype=np.int32)
        self.removed = np.zeros(cap, dtype=np.int64)
        self.restored = np.zeros(cap, dtype=np.int64)
        self.kind = np.zeros(cap, dtype=np.int8)
        self.nominal = np.zeros(cap)  # staff a measure would remove (for attribution)
        self.observed = np.zeros(cap, dtype=bool)  # announced where the others see it
        #: Rows announced in the current step, per call: (rows, cols, mission, size,
        #: instrument, joined), and the missions on which one of them was withdrawn
        #: before the step ended (the model then forgets it: nobody perceives it).
        self.step_now = -1
        self.first_row_now = 0  # rows from here on were announced in step_now
        self.announced_now: list[tuple] = []
        self.withdrawn_now: set[int] = set()
        #: Per mission: [rows, cols, deadline, own] of measures not yet due.
        self.waiting: list[list[tuple[np.ndarray, np.ndarray, int, bool]]] = [
            [] for _ in range(n_missions)
        ]
        #: Per mission: [rows, cols, kind] of restrictions carried out and in force.
        self.in_force: list[list[tuple[np.ndarray, np.ndarray, int]]] = [
            [] for _ in range(n_missions)
        ]
        #: Per mission and run: the row of the visa denial now in force (-1).
        #: Per instrument that acts while in force (a visa denial: departures every
        #: step), the row of the measure in force on each mission and run (-1: none).
        self.standing_row = {
            i.code: np.full((n_missions, n_runs), -1, dtype=np.int64)
            for i in instruments.hostile()
            if i.acts_in_force
        }
        #: Restrictions that stay in force after their deadline until lifted.
        self._restrictions = {i.code for i in instruments.liftable()}
        #: Rows of these instruments take the staff changes of others at their deadline
        #: (a settlement: its cap's cuts and its restores).
        self._effects_of = {
            i.code: tuple(
                "restore" if name == "restore" else instruments.code_of(name)
                for name in i.record_effects_of
            )
            for i in instruments.INSTRUMENTS.values()
            if i.record_effects_of
        }
        self._hostile_codes = [i.code for i in instruments.hostile()]

    # ----------------------------------------------------------------- adding
    def _grow(self, extra: int) -> None:
        need = self.n_rows + extra
        if need <= len(self.fate):
            return
        cap = max(need, 2 * len(self.fate))
        for name, fill in (
            ("fate", 0),
            ("fate_step", -1),
            ("removed", 0),
            ("restored", 0),
            ("kind", 0),
            ("nominal", 0),
            ("observed", False),
        ):
            old = getattr(self, name)
            new = np.full(cap, fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def add(
        self,
        cols: np.ndarray,
        *,
        step: int,
        actor: int,
        target: int,
        mission: int,
        instrument,
        amount,
        size,
        cause,
        deadline_step: int,
        cause_row=-1,
        ally=-1,
        event_index: int = -1,
        own: bool = False,
        fate: int = PENDING,
        nominal=None,
        waits: bool = True,
    ) -> np.ndarray:
        """Append one row per run column in ``cols``; return the rows' indices.

        Array arguments are per run over the whole block (indexed by ``cols`` here);
        scalars apply to every row. A measure left ``PENDING`` waits for its deadline
        (``waits=False``: an offer, settled by acceptance or lapse instead).
        """
        cols = np.asarray(cols, dtype=np.int64)
        n = len(cols)
        if n == 0:
            return np.zeros(0, dtype=np.int64)

        def pick(value):
            # One value for every row stays a scalar (expanded when the table is made).
            return value[cols] if np.ndim(value) else value

        rows = np.arange(self.n_rows, self.n_rows + n, dtype=np.int64)
        chunk = {
            "n": n,
            "col": cols,
            "step": step,
            "actor": actor,
            "target": target,
            "mission": mission,
            "instrument": pick(instrument),
            "cause": pick(cause),
            "cause_row": pick(cause_row),
            "ally": pick(ally),
            "event_index": event_index,
            "deadline_step": deadline_step,
            "own": own,
            "amount": pick(amount),
            "size": pick(size),
        }
        self._chunks.append(chunk)
        self._grow(n)
        self.n_rows += n
        if step != self.step_now:
            self.step_now, self.announced_now, self.withdrawn_now = step, [], set()
            self.first_row_now = int(rows[0])
        fates = pick(fate)
        self.fate[rows] = fates
        self.fate_step[rows] = np.where(np.equal(fates, PENDING), -1, step)
        self.kind[rows] = chunk["instrument"]
        self.nominal[rows] = np.inf if nominal is None else pick(nominal)
        if mission >= 0:
            self.announced_now.append((rows, cols, mission, chunk))
        waiting = np.broadcast_to(np.equal(fates, PENDING), (n,))
        if waits and mission >= 0 and waiting.any():
            if waiting.all():
                self.waiting[mission].append((rows, cols, deadline_step, own))
            else:
                self.waiting[mission].append((rows[waiting], cols[waiting], deadline_step, own))
        return rows

    # ----------------------------------------------------------------- fates
    def cancel(self, mission: int, runs: np.ndarray, step: int) -> np.ndarray:
        """Pending hostile measures on ``mission`` in the selected runs are cancelled.

        Returns, per run of the block, the row of the largest measure cancelled (-1).
        """
        largest = np.full(self.n_runs, -1, dtype=np.int64)
        for rows, cols, _deadline, own in self.waiting[mission]:
            if own:
                continue
            hit = runs[cols] & (self.fate[rows] == PENDING)
            hit &= np.isin(self.kind[rows], self._hostile_codes)
            if hit.any():
                self.fate[rows[hit]] = CANCELLED
                self.fate_step[rows[hit]] = step
                largest[cols[hit]] = rows[hit]
                now = rows[hit] >= self.first_row_now
                if step == self.step_now and (now & self.observed[rows[hit]]).any():
                    self.withdrawn_now.add(mission)
        return largest

    def settle_offer(self, row: np.ndarray, cols: np.ndarray, fate: int, step: int) -> None:
        """An open offer (``row`` per run column) is accepted or lapses."""
        self.settle(row, cols, fate, step)

    def settle(self, row: np.ndarray, cols: np.ndarray, fate: int, step: int) -> None:
        """A pending row (``row`` per run column, -1: none) gets its fate in runs ``cols``
        (an offer accepted or lapsed, an ultimatum met or carried out)."""
        ok = row[cols] >= 0
        rows = row[cols][ok]
        rows = rows[self.fate[rows] == PENDING]
        self.fate[rows] = fate
        self.fate_step[rows] = step

    def lift(self, mission: int, lifted: dict[int, np.ndarray], step: int) -> None:
        """Restrictions (instrument code -> runs) on ``mission`` are lifted in the
        selected runs."""
        for rows, cols, kind in self.in_force[mission]:
            runs = lifted.get(kind)
            if runs is None:
                continue
            hit = runs[cols] & (self.fate[rows] == CARRIED_OUT)
            self.fate[rows[hit]] = LIFTED
            self.fate_step[rows[hit]] = step
        for code, rows in self.standing_row.items():
            runs = lifted.get(code)
            if runs is not None:
                rows[mission] = np.where(runs, -1, rows[mission])

    def perceived_now(self, mission: int) -> list[tuple]:
        """This step's announcements on ``mission`` that the others will perceive (observed
        and not withdrawn): (cols, size, instrument, rows, joined) per call, in order."""
        out = []
        for rows, cols, m, chunk in self.announced_now:
            if m != mission:
                continue
            keep = self.observed[rows] & (self.fate[rows] != CANCELLED)
            if keep.any():
                size = _column(chunk, "size")[keep]
                kind = _column(chunk, "instrument")[keep]
                joined = _column(chunk, "cause")[keep] == SOLIDARITY
                out.append((cols[keep], size, kind, rows[keep], joined))
        return out

    def observe(self, rows: np.ndarray) -> None:
        """Mark rows (-1: none) as hostile acts the other states perceive."""
        rows = np.asarray(rows)
        self.observed[rows[rows >= 0]] = True

    def announced(self, n_steps: int, n_missions: int) -> tuple[np.ndarray, np.ndarray]:
        """Per step, mission and run: the staff-equivalents of the hostile acts perceived
        (announced in the forecast, or recalled from the history), and the instrument of
        the largest of them (the first among equals), as the states perceive them."""
        size = np.zeros((n_steps, n_missions, self.n_runs), dtype=np.float32)
        kind = np.zeros((n_steps, n_missions, self.n_runs), dtype=np.int8)
        if not self._chunks:
            return size, kind
        rows = np.flatnonzero(self.observed[: self.n_rows])
        data = {
            k: np.concatenate([_column(c, k) for c in self._chunks])[rows]
            for k in ("step", "mission", "col", "size", "instrument")
        }
        acted = data["size"] > 0
        rows = rows[acted]
        step, mission, col = data["step"][acted], data["mission"][acted], data["col"][acted]
        sizes, instrument = data["size"][acted], data["instrument"][acted]
        total = np.zeros(size.shape)
        np.add.at(total, (step, mission, col), sizes)
        size[:] = total
        # Assigned in order of size, the first row last among equals: the largest wins.
        order = np.lexsort((-rows, sizes))
        kind[step[order], mission[order], col[order]] = instrument[order]
        return size, kind

    def is_withdrawn(self, rows: np.ndarray) -> np.ndarray:
        """Whether each referenced row (-1: none) is a measure cancelled before it bit."""
        rows = np.asarray(rows)
        out = np.zeros(rows.shape, dtype=bool)
        has = rows >= 0
        out[has] = self.fate[rows[has]] == CANCELLED
        return out

    # ----------------------------------------------------------------- effects
    def apply_due(self, step: int, effects: dict) -> dict:
        """Measures due at ``step`` are carried out; staff changes go to their rows.

        ``effects`` maps a Kind (and ``"restore"``) to the (missions, runs) staff that
        mechanism removed (or brought back) this step. Returns what no due measure
        explains (departures under a visa denial in force, a cap given in the scenario).
        """
        left = {key: np.array(value, dtype=np.int64, copy=True) for key, value in effects.items()}
        for m, entries in enumerate(self.waiting):
            keep = []
            due = []
            for entry in entries:
                (due if entry[2] <= step else keep).append(entry)
            self.waiting[m] = keep
            for rows, cols, _deadline, _own in due:
                live = self.fate[rows] == PENDING
                rows, cols = rows[live], cols[live]
                if not len(rows):
                    continue
                self.fate[rows] = CARRIED_OUT
                self.fate_step[rows] = step
                kinds = self.kind[rows]
                for kind in np.unique(kinds):
                    sel = kinds == kind
                    r, c = rows[sel], cols[sel]
                    own_key = "restore" if kind == Kind.RESTORE else int(kind)
                    for key in self._effects_of.get(int(kind), (own_key,)):
                        pool = left.get(key)
                        if pool is not None:
                            take = np.minimum(self.nominal[r], pool[m, c]).astype(np.int64)
                            pool[m, c] -= take
                            target = self.restored if key == "restore" else self.removed
                            target[r] += take
                    if kind in self._restrictions:
                        self.in_force[m].append((r, c, int(kind)))
                    standing = self.standing_row.get(int(kind))
                    if standing is not None:
                        standing[m, c] = r
        return left

    # ----------------------------------------------------------------- output
    def frame(
        self,
        run_ids: np.ndarray,
        state_ids: list[str],
        mission_ids: list[str],
        step_date,
        event_dates: dict[int, object],
        forecast_step: int,
    ) -> pd.DataFrame:
        """The block's rows as a table (see the module's docstring for the columns)."""
        if self._chunks:
            data = {k: np.concatenate([_column(c, k) for c in self._chunks]) for k in _DTYPES}
        else:
            data = {k: np.zeros(0, dtype=t) for k, t in _DTYPES.items()}
        n = self.n_rows
        run = np.asarray(run_ids, dtype=np.int64)[data["col"]]
        # Rows were appended in announcement order, so a stable sort by run keeps it.
        order = np.argsort(run, kind="stable")
        seq = np.empty(n, dtype=np.int64)
        sorted_runs = run[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_runs)) + 1]
        counts = np.diff(np.r_[starts, n])
        seq[order] = np.arange(n) - np.repeat(starts, counts)
        cause_row = data["cause_row"]
        cause_seq = np.where(cause_row >= 0, seq[np.maximum(cause_row, 0)], -1)
        steps = data["step"]
        dates_by_step = {int(s): step_date(int(s)) for s in np.unique(steps)}
        deadline_dates = {int(s): step_date(int(s)) for s in np.unique(data["deadline_step"])}
        fate_step = self.fate_step[:n]
        fate_dates = {int(s): step_date(int(s)) for s in np.unique(fate_step) if s >= 0}
        event_index = data["event_index"]
        date = [
            event_dates[int(e)] if e >= 0 else dates_by_step[int(s)]
            for s, e in zip(steps, event_index, strict=True)
        ]
        date = _dates(date)
        states = np.array([*state_ids, None], dtype=object)
        missions = np.array([*mission_ids, None], dtype=object)
        labels = instruments.labels()
        frame = pd.DataFrame(
            {
                "run": run,
                "seq": seq.astype(np.int32),
                "step": steps,
                "date": date,
                "history": steps < forecast_step,
                "actor": pd.Categorical(states[data["actor"]], categories=state_ids),
                "target": pd.Categorical(states[data["target"]], categories=state_ids),
                "mission": pd.Categorical(missions[data["mission"]], categories=mission_ids),
                "instrument": pd.Categorical.from_codes(data["instrument"], categories=labels),
                "amount": data["amount"],
                "size": data["size"],
                "cause": pd.Categorical.from_codes(data["cause"], categories=list(CAUSES)),
                "cause_seq": pd.array(np.where(cause_seq >= 0, cause_seq, 0), dtype="Int32"),
                "event_index": pd.array(np.maximum(event_index, 0), dtype="Int32"),
                "ally": pd.Categorical(states[data["ally"]], categories=state_ids),
                "deadline_step": data["deadline_step"],
                "deadline": _dates([deadline_dates[int(s)] for s in data["deadline_step"]]),
                "fate": pd.Categorical.from_codes(self.fate[:n], categories=list(FATES)),
                "fate_step": fate_step.astype(np.int32),
                "fate_date": _dates([fate_dates.get(int(s)) for s in fate_step]),
                "staff_removed": self.removed[:n],
                "staff_restored": self.restored[:n],
                "own": data["own"],
            }
        )
        frame.loc[cause_seq < 0, "cause_seq"] = pd.NA
        frame.loc[event_index < 0, "event_index"] = pd.NA
        return frame.iloc[order].reset_index(drop=True)


def _dates(values: list) -> pd.Series:
    """Dates (None: missing) as a datetime column, also when there are none."""
    if not values:
        return pd.Series([], dtype="datetime64[ns]")
    return pd.to_datetime(pd.Series(values, dtype="object"))
