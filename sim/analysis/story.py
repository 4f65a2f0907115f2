"""One run told as a dated story: who did what, why, what became of it, and the outcome.

:func:`tell` turns one run's rows of the event record (:mod:`sim.engine.event_record`) into
one line per act, in date order, between a header and the outcome::

    run 3 of us_russia_2021 — spiral on 2022-09-14 (us_in_russia at 63 staff, ...)
    2022-01-12  #11  Russia expels 26 staff from us_in_russia by 2022-02-16 (answer to
        #9, United States' expulsion of 2021-12-29) → carried out 2022-02-16; us_in_russia
        110 → 84
    outcome: spiral — us_in_russia reached 63 staff on 2022-09-14, at or below the
        closure threshold (65), when #16 took effect

Each line gives the act, its cause (a scenario event with its note, an answer to an
earlier act ``#seq``, an initiative, solidarity, ...), its fate and, for a measure that
took effect, its mission's staff before and after (a step's effects in the engine's
order). The outcome line says why the run was judged as it was
(:mod:`sim.outcome_classes`); when a run calmed is the engine's (the runs table's
``calm_step``), the story only names the acts around it. Dates are the first day of the
step (``Scenario.date_of``) but a scenario event keeps its own. Staff come from the
trajectory, else from the record and the run's final staff, which the engine keeps exact.

``python -m sim story DIR --run N|spiral|de_escalation|relapse|unresolved`` tells a run
of results written by ``run --out DIR`` (:func:`story_from_directory`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.engine import instruments
from sim.outcome_classes import (
    OUTCOMES,
    outcome_class,
    registered_outcomes,
    scenario_outcome_names,
)

__all__ = [
    "NO_EVENTS_MESSAGE",
    "StoryError",
    "load_run",
    "parse_run_choice",
    "run_of",
    "story_from_directory",
    "tell",
    "typical_run",
]

#: What to do when results were written without the event record.
NO_EVENTS_MESSAGE = (
    "written without the event record: rerun with run --out DIR (without --no-events)"
)
_OLD_RESULTS = "these results were written by an older version: rerun run --out DIR"

_HOSTILE = ("expel", "cap", "ban_local_hires", "close_consulate", "visa_denial", "suspend")
_RESTRICTIONS = ("cap", "ban_local_hires", "visa_denial", "suspend")
#: Causes of rows that record staff leaving or returning, not anybody's decision.
_EFFECT_CAUSES = ("departure", "standing")
#: The order in which the engine applies a step's effects (measures.Missions.apply_due).
_APPLY_ORDER = {
    k: i
    for i, k in enumerate(
        ("expel", "close_consulate", "ban_local_hires", "visa_denial", "cap", "suspend", "restore")
    )
}
_NOUN = {
    "expel": "expulsion",
    "cap": "cap",
    "ban_local_hires": "ban on local staff",
    "close_consulate": "consulate closure",
    "visa_denial": "visa denial",
    "suspend": "suspension",
    "cancel": "cancellation",
    "lift": "lifting of a restriction",
    "restore": "letting staff back",
    "offer": "conditional offer",
    "ultimatum": "ultimatum",
    "settle": "settlement",
}


class StoryError(Exception):
    """A run cannot be told: no event record, unknown run, no run of that outcome."""


# --------------------------------------------------------------------- rows
def _rows(events: pd.DataFrame, sc) -> list:
    """The run's rows as named tuples in announcement order (NA as None, dates as dates)."""
    frame = events.sort_values("seq", kind="stable")
    frame = frame.rename(columns={"staff_removed": "removed", "staff_restored": "restored"})
    frame = frame.astype(object).where(frame.notna(), None)
    frame["date"] = [
        sc.date_of(int(s)) if d is None else pd.Timestamp(d).date()
        for d, s in zip(frame["date"], frame["step"], strict=True)
    ]
    return list(frame.itertuples(index=False, name="Row"))


def _hostile(r) -> bool:
    """A new hostile measure: somebody's, against another's mission, of some size."""
    return r.instrument in _HOSTILE and not r.own and r.size > 0 and r.cause not in _EFFECT_CAUSES


def _int(value: Any) -> int | None:
    try:
        return None if value is None or pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return None


def _levels(rows: list, run_row: Mapping, sc, staff: np.ndarray | None) -> np.ndarray:
    """Staff per mission, (steps + 1, missions): row t before step t (after step t - 1).

    From the trajectory; without one, from the record and the run's final staff.
    """
    index = {mid: i for i, mid in enumerate(sc.missions)}
    net = np.zeros((sc.n_steps, len(index)), dtype=np.int64)  # change at each step
    for r in rows:
        if r.mission in index and (r.removed or r.restored):
            net[min(max(r.deadline_step, 0), sc.n_steps - 1), index[r.mission]] += (
                r.restored - r.removed
            )
    if staff is not None:
        after = np.asarray(staff, dtype=np.int64)
        return np.vstack([after[:1] - net[:1], after])
    try:
        final = np.array([int(run_row[f"final_staff.{mid}"]) for mid in index], dtype=np.int64)
    except (KeyError, TypeError, ValueError):
        raise StoryError(
            "no staff to quote: the run has neither a trajectory nor its final staff"
        ) from None
    later = np.cumsum(net[::-1], axis=0)[::-1]  # what changed at each step and after
    return np.vstack([final - later, final])


def _outcome_of(run_row: Mapping, names: Sequence[str] = OUTCOMES) -> tuple[str, int | None]:
    """The run's outcome name (``outcome`` a name, or a code into ``names``) and step."""
    raw = run_row["outcome"]
    name = names[int(raw)] if isinstance(raw, int | np.integer) else str(raw)
    step = _int(run_row.get("outcome_step"))
    return name, step if step is not None and step >= 0 else None


# ------------------------------------------------------------------ wording
def _possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def _shorten(note: str, limit: int = 80) -> str:
    text = " ".join(note.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:(") + "…"


class _Teller:
    def __init__(self, rows: list, run_row: Mapping, sc, staff: np.ndarray | None):
        self.rows = rows
        self.by_seq = {r.seq: r for r in rows}
        self.run_row = run_row
        self.sc = sc
        self.index = {mid: i for i, mid in enumerate(sc.missions)}
        self.levels = _levels(rows, run_row, sc, staff)
        self.effects = self._effects()
        self.events = {ev.index: ev for ev in sc.events}
        self.width = len(str(max((r.seq for r in rows), default=0)))

    def after(self, step: int, mission: str | None) -> int | None:
        """A mission's staff after a step (step -1: before the first)."""
        if mission not in self.index:
            return None
        return int(self.levels[np.clip(step + 1, 0, len(self.levels) - 1), self.index[mission]])

    def _effects(self) -> dict[int, tuple[int, int]]:
        """Per row that changed staff or took effect: its mission's staff before and after."""
        groups: dict[tuple[int, str], list] = {}
        for r in self.rows:
            took = r.fate in ("carried_out", "lifted") and r.instrument in _APPLY_ORDER
            if r.mission in self.index and (r.removed or r.restored or took):
                groups.setdefault((r.deadline_step, r.mission), []).append(r)
        out = {}
        for (step, mission), members in groups.items():
            level = self.after(step - 1, mission)
            for r in sorted(members, key=lambda r: (_APPLY_ORDER.get(r.instrument, 9), r.seq)):
                out[r.seq] = (level, level - r.removed + r.restored)
                level = out[r.seq][1]
        return out

    # -- small pieces
    def name(self, state: str | None) -> str:
        spec = self.sc.states.get(state) if state is not None else None
        return spec.name if spec is not None and spec.name else (state or "someone")

    def day(self, step: int) -> str:
        return self.sc.date_of(step).isoformat()

    def span(self, steps: int) -> str:
        days = steps * self.sc.step_days
        if days % 7:
            return f"{days} days"
        return f"{days // 7} week" + ("" if days == 7 else "s")

    def act(self, seq: int | None, brackets: bool = False) -> str:
        """``#k, Russia's expulsion of 2021-12-01`` (``#k (...)`` with ``brackets``)."""
        row = self.by_seq.get(seq) if seq is not None else None
        if row is None:
            return "an earlier act" if seq is None else f"#{seq}"
        what = (
            f"{_possessive(self.name(row.actor))} {_NOUN.get(row.instrument, row.instrument)} "
            f"of {row.date.isoformat()}"
        )
        return f"#{seq} ({what})" if brackets else f"#{seq}, {what}"

    # -- one row
    def what(self, r) -> str:
        a, by = self.name(r.actor), self.day(r.deadline_step)
        n = round(r.amount) if np.isfinite(r.amount) else 0
        m = r.mission or "its counterpart's mission"
        kind = r.instrument
        if r.cause == "departure":
            return f"{r.removed} staff leave {m}"
        if r.cause == "standing":
            if kind == "restore":
                return f"{r.restored} staff return to {m}"
            return f"{r.removed} staff leave {m} under a restriction in force"
        if r.cause == "temporary_end":
            return self._temporary_end(r, m, n)
        if kind == "expel":
            if r.own:
                return f"{a} withdraws {n} staff of its own from {m} by {by}"
            return f"{a} expels {n} staff from {m} by {by}"
        if kind == "cap":
            return f"{a} caps {m} at {n} staff from {by}"
        if kind == "ban_local_hires":
            return f"{a} bans local staff of {m}, down to {n}, from {by}"
        if kind == "close_consulate":
            posts = f"{n} consulate" + ("" if n == 1 else "s")
            return f"{a} closes {posts} of {'its own mission ' if r.own else ''}{m} by {by}"
        if kind == "visa_denial":
            per = "week" if self.sc.step_days == 7 else f"{self.sc.step_days}-day step"
            return f"{a} denies visas to {m}: {r.amount:.3g} departures per {per} from {by}"
        if kind == "suspend":
            return f"{a} suspends {m} from {by}"
        if kind == "cancel":
            called = f", calling off {n} staff" if n > 0 else ""
            return f"{a} cancels its pending measures on {m}{called}"
        if kind == "lift":
            lifted = [
                x
                for x in self.rows
                if x.fate == "lifted" and x.fate_step == r.step and x.mission == r.mission
            ]
            if lifted:
                kinds = {x.instrument for x in lifted}
                noun = _NOUN.get(lifted[0].instrument) if len(kinds) == 1 else None
                refs = ", ".join(f"#{x.seq}" for x in lifted)
                return f"{a} lifts a restriction on {m}: its {noun or 'restrictions'} {refs}"
            spec = self.sc.missions.get(r.mission or "")
            if spec is not None and (spec.cap is not None or spec.local_hire_ceiling is not None):
                return f"{a} lifts a restriction on {m} (one given in the scenario)"
            return f"{a} lifts a restriction on {m}"
        if kind == "restore":
            return f"{a} lets {n} staff back into {m} by {by}"
        if kind == "offer":
            return f"{a} offers to drop its measures on {m} if {self.name(r.target)} drops its own"
        if kind == "ultimatum":
            return (
                f"{a} gives {self.name(r.target)} until {by} to back down, or it "
                f"{self._consequence(r)} ({m})"
            )
        if kind == "settle":
            return f"{a} settles with {self.name(r.target)}: {m} at {n} staff from {by}"
        return f"{a} acts on {m} ({kind})"

    def _temporary_end(self, r, m: str, n: int) -> str:
        """The end of a temporary measure (``until``): its restriction lifted, or its
        staff let back."""
        measure = self.by_seq.get(r.cause_seq) if r.cause_seq is not None else None
        noun = _NOUN.get(measure.instrument, "measure") if measure is not None else "measure"
        ref = f" #{r.cause_seq}" if r.cause_seq is not None else ""
        head = f"the temporary {noun}{ref} on {m} ends"
        if r.instrument == "lift":
            return f"{head}: the restriction is lifted"
        if n <= 0:
            return f"{head}, but nobody can come back (a cap or a suspension leaves no room)"
        if measure is not None and measure.instrument == "close_consulate":
            return f"{head}: its posts reopen with {n} staff"
        return f"{head}: {n} staff let back"

    def _consequence(self, r) -> str:
        """What an ultimatum threatens, in words (its scenario event's ``then``)."""
        ev = self.events.get(r.event_index) if r.event_index is not None else None
        then = instruments.INSTRUMENTS.get(ev.options.get("then", "")) if ev else None
        if then is None:
            return "acts"
        return then.describe(r.amount, r.amount)

    def why(self, r) -> str:
        c = r.cause
        cause = self.by_seq.get(r.cause_seq) if r.cause_seq is not None else None
        if c == "event":
            if r.event_index is None:
                return "scenario event"
            ev = self.events.get(r.event_index)
            note = _shorten(ev.note) if ev is not None and ev.note else ""
            return f"scenario event {r.event_index}" + (f": {note}" if note else "")
        if c == "answer":
            return f"answer to {self.act(r.cause_seq)}"
        if c == "solidarity":
            ally = self.name(r.ally) if r.ally is not None else "an ally"
            after = f", after {self.act(r.cause_seq)}" if r.cause_seq is not None else ""
            return f"solidarity with {ally}{after}"
        if c == "reciprocation":
            return f"reciprocation of {self.act(r.cause_seq)}"
        if c == "ultimatum":
            if r.instrument in _HOSTILE:
                return f"consequence of {self.act(r.cause_seq)}, not met"
            return f"complying with {self.act(r.cause_seq)}"
        if c == "temporary_end":
            return f"temporary: the end of {self.act(r.cause_seq)}"
        if c == "offer_accepted":
            name = self.name(cause.actor) if cause is not None else "the counterpart"
            return f"withdrawn because {name} accepted its offer with #{r.cause_seq}"
        if c == "departure":
            if cause is None:
                return "departures under a visa denial"
            return (
                f"departures under {_possessive(self.name(cause.actor))} visa denial #{cause.seq}"
            )
        return {"standing": "standing restriction"}.get(c, c)  # initiative, ...

    def fate(self, r) -> str:
        f, when = r.fate, self.day(r.fate_step)
        if r.cause in _EFFECT_CAUSES or r.cause == "temporary_end":
            return ""
        if r.instrument == "ultimatum":
            if f == "met":
                return f"met {when}"
            if f == "carried_out":
                by = self._by(r, lambda x: x.cause == "ultimatum" and x.cause_seq == r.seq)
                return f"not met: carried out {when}{by}"
        if r.instrument == "settle" and f == "carried_out":
            return f"agreed levels from {when}"
        if f == "carried_out":
            if r.instrument in ("cancel", "lift") or (
                r.instrument not in _APPLY_ORDER and r.fate_step == r.step
            ):
                return ""
            return f"{'in force from' if r.instrument in _RESTRICTIONS else 'carried out'} {when}"
        if f == "cancelled":
            by = self._by(
                r, lambda x: x.instrument in ("cancel", "settle") and x.mission == r.mission
            )
            return f"cancelled {when}{by}"
        if f == "lifted":
            by = self._by(
                r, lambda x: x.instrument in ("lift", "settle") and x.mission == r.mission
            )
            return f"in force from {self.day(r.deadline_step)}, lifted {when}{by}"
        if f == "accepted":
            by = self._by(r, lambda x: x.cause == "offer_accepted" and x.actor == r.actor, True)
            return f"accepted {when}{by}"
        return {
            "not_feasible": "not feasible: nothing left to act on",
            "lapsed": f"lapsed {when}",
            "pending": "still pending at the horizon",
        }.get(f, f)

    def _by(self, r, match, cause: bool = False) -> str:
        """`` (#k)``: the row at the fate's step that settled it (its cause, with ``cause``)."""
        for x in self.rows:
            if x.step == r.fate_step and x.seq != r.seq and match(x):
                seq = x.cause_seq if cause else x.seq
                return f" (#{seq})" if seq is not None else ""
        return ""

    def line(self, r) -> str:
        text = f"{r.date.isoformat()}  #{r.seq:<{self.width}}  {self.what(r)} ({self.why(r)})"
        fate = self.fate(r)
        if fate:
            text += f" → {fate}"
        if r.seq in self.effects:
            before, after = self.effects[r.seq]
            change = f"stays at {before}" if before == after else f"{before} → {after}"
            text += f"; {r.mission} {change}"
        return text

    # -- the outcome
    def judgement(self) -> tuple[str, str]:
        """(the header's parenthesis, the final line's reason)."""
        name, step = _outcome_of(self.run_row, scenario_outcome_names(self.sc))
        end = self.sc.end.isoformat()
        if name == "spiral" and step is not None:
            return self._spiral(step)
        if name in ("de_escalation", "relapse") and step is not None:
            calm = _int(self.run_row["calm_step"])
            if calm is None or calm < 0:
                raise StoryError(f"a {name} run without its calm_step: {_OLD_RESULTS}")
            since = f"calm from {self.day(calm)}: {self._calm_reason(calm)}"
            if name == "de_escalation":
                after = f"no hostile measure from then to the horizon ({end})"
                return f"calm from then to the horizon, {end}", f"{since}; {after}"
            broke = next((r for r in self.rows if _hostile(r) and r.step == step), None)
            what = self.act(broke.seq, brackets=True) if broke else "a new hostile measure"
            head = f"#{broke.seq}" if broke else "a new hostile measure"
            return (
                f"calm from {self.day(calm)}, broken by {head}",
                f"{since}; then {what} broke it on {self.day(step)}",
            )
        if name != "unresolved" and step is not None:  # a plugin's class: its description
            cls = outcome_class(name)
            return cls.description, f"{cls.label} on {self.day(step)}: {cls.description}"
        return f"neither closure nor a calm by the horizon, {end}", self._unresolved(end)

    def _calm_reason(self, calm: int) -> str:
        oc = self.sc.outcomes
        watched = [self.index[m] for m in oc.missions if m in self.index]
        if oc.restored_level is not None and watched:
            fs = self.sc.forecast_step
            if (
                self.levels[fs, watched].min() < oc.restored_level
                and self.levels[calm + 1, watched].min() >= oc.restored_level
            ):
                return f"the watched missions back at {oc.restored_level} staff or more"
        last = [r for r in self.rows if _hostile(r) and r.step < calm]
        since = f"since {self.act(last[-1].seq, brackets=True)}" if last else "recorded"
        both = ", after conciliatory moves by both sides" if oc.require_reciprocation else ""
        return f"no hostile measure {since} and nothing pending{both}"

    def _spiral(self, step: int) -> tuple[str, str]:
        oc, threshold = self.sc.outcomes, self.sc.outcomes.closure_threshold
        suspended = {
            r.mission: r
            for r in self.rows
            if r.instrument == "suspend"
            and r.deadline_step <= step
            and r.fate in ("carried_out", "lifted")
        }
        closed = self.run_row.get("closed_mission")
        mission = closed if isinstance(closed, str) else None
        if mission is None:  # the first watched mission shut at that step
            levels = {m: self.after(step, m) for m in oc.missions}
            shut = [
                m for m, n in levels.items() if m in suspended or (n is not None and n <= threshold)
            ]
            mission = shut[0] if shut else None
        name, level = mission or "a watched mission", self.after(step, mission)
        at = f", at {level} staff" if level is not None else ""
        suspension = suspended.get(mission)
        if suspension is not None and (
            level is None or level > threshold or suspension.deadline_step == step
        ):
            return (
                f"{name} suspended by #{suspension.seq}{at}",
                f"{name} was suspended on {self.day(suspension.deadline_step)} "
                f"({self.act(suspension.seq)}){at}: a suspended mission counts as closed",
            )
        took = [
            f"#{r.seq}"
            for r in self.rows
            if r.mission == mission and r.deadline_step == step and r.seq in self.effects
        ]
        when = f", when {', '.join(took)} took effect" if took else ""
        if level is None:
            return (
                f"{name} at or below the closure threshold of {threshold}, or suspended",
                f"{name} was at or below the closure threshold ({threshold}), or suspended, "
                f"on {self.day(step)}{when}",
            )
        return (
            f"{name} at {level} staff, at or below the closure threshold of {threshold}",
            f"{name} reached {level} staff on {self.day(step)}, at or below the closure "
            f"threshold ({threshold}){when}",
        )

    def _unresolved(self, end: str) -> str:
        sc, oc = self.sc, self.sc.outcomes
        text = (
            f"no closure: by the horizon ({end}) no watched mission fell to the closure "
            f"threshold ({oc.closure_threshold})"
        )
        names = [m for m in oc.missions if m in self.index]
        forecast = self.levels[sc.forecast_step + 1 :, [self.index[m] for m in names]]
        if forecast.size:
            t, i = np.unravel_index(np.argmin(forecast), forecast.shape)
            text += (
                f" (the lowest: {names[i]} at {forecast[t, i]} on "
                f"{self.day(sc.forecast_step + int(t))})"
            )
        rules = []
        if oc.quiet:
            both = ", after conciliatory moves by both sides" if oc.require_reciprocation else ""
            rules.append(
                f"{self.span(oc.quiet_steps)} without a new hostile measure and with nothing "
                f"pending{both}"
            )
        if oc.restored_level is not None:
            rules.append(f"the watched missions back at {oc.restored_level} staff")
        text += "; and no calm" + (f", which needs {', or '.join(rules)}" if rules else "")
        hostile = [r for r in self.rows if _hostile(r)]
        if hostile:
            text += f"; the last hostile measure: {self.act(hostile[-1].seq, brackets=True)}"
        pending = [
            f"#{r.seq}" for r in self.rows if r.fate == "pending" and r.instrument in _HOSTILE
        ]
        if pending:
            text += f"; still pending at the horizon: {', '.join(pending)}"
        return text


# --------------------------------------------------------------------- tell
def tell(
    events: pd.DataFrame,
    run_row: Mapping,
    scenario,
    staff: np.ndarray | None,
    *,
    history: bool = False,
) -> str:
    """One run as a dated story: a header, one line per act, and why the outcome.

    ``events`` are the run's rows of the event record (``Result.events``), ``run_row``
    its row of the runs table (``run``, ``outcome``, ``outcome_step``, ``calm_step``,
    ``closed_mission``, ``final_staff.<mission>``; a mapping or a Series), ``staff`` its
    trajectory, (steps, missions), or None. Rows before the forecast start are left out
    unless ``history``; the header says how many. Lines are in date order (then as
    announced); each act is numbered by its ``seq``, which causes refer to. StoryError
    if ``run_row`` has no ``calm_step`` (results of an older version).
    """
    sc = scenario
    if "calm_step" not in run_row:
        raise StoryError(f"the runs table has no calm_step: {_OLD_RESULTS}")
    rows = _rows(events, sc)
    teller = _Teller(rows, run_row, sc, staff)
    name, step = _outcome_of(run_row, scenario_outcome_names(sc))
    label = outcome_class(name).label
    head, reason = teller.judgement()
    run = _int(run_row.get("run"))
    when = f" on {teller.day(step)}" if step is not None else ""
    lines = [f"run{'' if run is None else f' {run}'} of {sc.name} — {label}{when} ({head})"]
    shown = sorted((r for r in rows if history or not r.history), key=lambda r: (r.date, r.seq))
    omitted = len(rows) - len(shown)
    if omitted:
        lines.append(
            f"({omitted} history row{'' if omitted == 1 else 's'} before the forecast start, "
            f"{sc.forecast_start.isoformat()}, omitted; --history shows them)"
        )
    lines += [teller.line(r) for r in shown] or ["(no act recorded in the forecast)"]
    lines.append(f"outcome: {label} — {reason}")
    return "\n".join(lines)


# ---------------------------------------------------------- choosing a run
def typical_run(runs: pd.DataFrame, outcome: str, names: Sequence[str] = OUTCOMES) -> int:
    """The typical run of an outcome: its outcome step is the median among that outcome's.

    The lower median when their number is even (so that it is some run's step); among
    runs at that step, the lowest run index. Unresolved runs have no outcome step, so the
    lowest run index among them. StoryError if no run has that outcome. ``names`` are
    the result's outcome names, which integer codes in ``runs["outcome"]`` index.
    """
    name = _outcome_name(outcome)
    codes = runs["outcome"]
    if pd.api.types.is_integer_dtype(codes):
        code = list(names).index(name) if name in names else -1
        mask = codes.to_numpy() == code
    else:
        mask = codes.astype("object").to_numpy() == name
    chosen = runs[mask]
    if chosen.empty:
        raise StoryError(f"no run has the outcome {name} (of {len(runs):,} runs)")
    step = pd.to_numeric(chosen["outcome_step"], errors="coerce").astype("float64").to_numpy()
    run = chosen["run"].to_numpy(np.int64)
    known = ~np.isnan(step)
    if not known.any():
        return int(run.min())
    median = np.sort(step[known])[(known.sum() - 1) // 2]
    return int(run[known & (step == median)].min())


def _outcome_name(text: str) -> str:
    """An outcome name (any registered class: built-in, or a loaded plugin's)."""
    name = text.strip().lower().replace("-", "_")
    known = [c.name for c in registered_outcomes()]
    if name not in known:
        raise StoryError(
            f"unknown outcome {text!r}; expected a run index or one of {', '.join(known)}"
        )
    return name


def parse_run_choice(text: str) -> int | str:
    """``--run``: a run index (int), or an outcome name (``de-escalation`` too)."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit() and len(stripped) <= 20:
        value = int(stripped)
        if value < 0:
            raise StoryError(f"--run: expected a run index >= 0, found {value}")
        return value
    try:
        return _outcome_name(stripped)
    except StoryError as exc:
        raise StoryError(f"--run: {exc}") from None


# -------------------------------------------------------------- from files
def load_run(directory: str | Path, choice: int | str):
    """(events, run_row, scenario, staff) of a run of results written by ``run --out``.

    ``choice`` is a run index or an outcome name (its :func:`typical_run`). StoryError
    when the directory cannot be read, has no event record, or has no such run.
    """
    from sim import api

    try:
        loaded = api.load_results(Path(directory))
    except (FileNotFoundError, KeyError, ValueError, OSError) as exc:
        raise StoryError(f"{directory}: cannot read results ({exc})") from None
    if not isinstance(loaded, api.Result):
        raise StoryError(
            f"{directory}: holds a sweep's results; story tells a run of run --out DIR"
        )
    try:
        return run_of(loaded, choice)
    except StoryError as exc:
        raise StoryError(f"{directory}: {exc}") from None


def run_of(result, choice: int | str):
    """(events, run_row, scenario, staff) of one run of a :class:`sim.Result`."""
    events = result.events
    if events is None:
        raise StoryError(NO_EVENTS_MESSAGE)
    runs = result.runs
    run = (
        typical_run(runs, choice, result.outcome_names) if isinstance(choice, str) else int(choice)
    )
    ids = runs["run"].to_numpy(np.int64)
    where = np.flatnonzero(ids == run)
    if not len(where):
        span = f"runs {ids.min()} to {ids.max()}" if len(ids) else "no runs"
        raise StoryError(f"no run {run} ({span})")
    traj = result.ensemble.trajectories
    staff = None if traj is None else traj[:, :, int(where[0])]
    return events[events["run"] == run], runs.iloc[int(where[0])].to_dict(), result.scenario, staff


def story_from_directory(directory: str | Path, choice: int | str, history: bool = False) -> str:
    """The story (:func:`tell`) of a run of results written by ``run --out DIR``."""
    events, run_row, scenario, staff = load_run(directory, choice)
    return tell(events, run_row, scenario, staff, history=history)
