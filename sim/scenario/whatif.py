"""What-if events and forecast warnings.

* ``--event`` / ``sim.run(events=...)``: :func:`parse_event_spec` reads the flag's
  ``KEY=VALUE,...`` syntax; :func:`insert_events` puts events into a scenario in date
  order and validates the result like a file, naming a problem in an added event by
  its label.
* ``--take-offer STATE``: :func:`take_offer_event` is the dated cancel by which STATE
  accepts the one conditional offer made toward it.
* :func:`forecast_warnings`: plain-language warnings about a scenario that cannot
  forecast anything (every run would replay the same history).
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sim.distributions import Distribution
from sim.engine import instruments
from sim.policies import BUILTIN_POLICIES, POLICIES, Policy
from sim.scenario.events_file import ISO_DATE
from sim.scenario.reading import scenario_from_dict
from sim.scenario.validation import type_ok
from sim.spec import EventSpec, Problem, Scenario, ScenarioError

__all__ = [
    "WHATIF_SOURCE",
    "forecast_warnings",
    "insert_events",
    "parse_event_spec",
    "take_offer_event",
    "whatif_event",
]

#: The ``source`` of an added event that does not give one: it is not in the record.
WHATIF_SOURCE = "what-if (not in the record)"
#: Event fields whose ``--event`` values are text as typed (unless quoted as TOML strings).
_TEXT_FIELDS = {"actor", "target", "kind", "lifts", "then", "source", "note"}
_NO_VALUE = object()


def _toml_value(text: str) -> Any:
    """``text`` read as exactly one TOML value, else ``_NO_VALUE``."""
    try:
        doc = tomllib.loads(f"v = {text.strip()}")
    except (tomllib.TOMLDecodeError, RecursionError):
        return _NO_VALUE
    return doc["v"] if list(doc) == ["v"] else _NO_VALUE


def _split_pairs(text: str) -> list[str]:
    """``text`` split at the commas outside quotes and brackets (empty pieces dropped)."""
    pieces, current = [], []
    quote: str | None = None
    depth = 0
    escaped = False
    for ch in text:
        if quote is not None:
            current.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"expected balanced brackets, found an unopened {ch!r}")
        elif ch == "," and depth == 0:
            pieces.append("".join(current))
            current = []
            continue
        current.append(ch)
    if quote is not None:
        raise ValueError(f"expected a closing {quote} (a quoted value is not closed)")
    if depth:
        raise ValueError("expected balanced brackets, found an unclosed '[' or '{'")
    pieces.append("".join(current))
    return [p for p in pieces if p.strip()]


def _spec_value(key: str, text: str) -> Any:
    """One ``--event`` value: read as ``--set`` reads values (a TOML value, else text).

    Text fields (actor, target, kind, lifts, then, source, note) are taken as typed unless
    written as a quoted TOML string, so ``note=2 more`` is text; ``mission=us:russia``
    is ``["us", "russia"]``, as in an events CSV.
    """
    if key in _TEXT_FIELDS:
        if text[:1] in ("'", '"'):
            value = _toml_value(text)
            if isinstance(value, str):
                return value
        return text
    if key == "mission" and ":" in text and not text.startswith("["):
        return [part.strip() for part in text.split(":")]
    value = _toml_value(text)
    return text if value is _NO_VALUE else value


def parse_event_spec(text: str) -> dict[str, Any]:
    """A ``--event`` value as an ``[[events]]`` table.

    The syntax is comma-separated ``KEY=VALUE`` pairs with the keys of an event
    (docs/scenario-format.md §6): ``date=2021-12-08,actor=us,target=russia,kind=cancel``.
    Values are read as ``--set`` reads them (dates, numbers, TOML values; anything else
    is text); quote a value that contains a comma (``note="talks, then a cancel"``).
    Raises ``ValueError`` for text that is not such pairs; the fields themselves are
    checked later, with the scenario, by the same code as the file's events.
    """
    if len(text) > 10_000:
        raise ValueError(f"expected at most 10,000 characters, found {len(text):,}")
    pairs = _split_pairs(text)
    if not pairs:
        raise ValueError(
            "expected KEY=VALUE pairs separated by commas, such as "
            "date=2021-12-08,actor=us,target=russia,kind=cancel; found nothing"
        )
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(
                f"expected KEY=VALUE, found {pair.strip()!r} (pairs are separated by commas; "
                "quote a value that contains one)"
            )
        if key in out:
            raise ValueError(f"field {key} is given twice")
        out[key] = _spec_value(key, value.strip())
    return out


def whatif_event(ev: Any) -> Any:
    """An added event as an ``[[events]]`` table: ISO dates and ``sender:host`` read,
    ``source`` defaulted. Anything but a mapping is left for validation to report."""
    if not isinstance(ev, Mapping):
        return ev
    out = dict(ev)
    for key in ("date", "deadline", "until"):
        value = out.get(key)
        if isinstance(value, str) and ISO_DATE.fullmatch(value.strip()):
            try:
                out[key] = dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
    pair = out.get("mission")
    if isinstance(pair, str):
        parts = [part.strip() for part in pair.split(":")]
        if len(parts) == 2 and all(parts):
            out["mission"] = parts
    out.setdefault("source", WHATIF_SOURCE)
    return out


def _record(ev: dict[str, Any], index: int, added_by: str) -> dict[str, Any]:
    """An added event as recorded in summaries and manifests (JSON-ready)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return {**{k: plain(v) for k, v in ev.items()}, "index": index, "added_by": added_by}


def insert_events(
    scenario: Scenario, events: list[Any], labels: list[str], *, cli: bool = False
) -> Scenario:
    """``scenario`` with ``events`` (``[[events]]`` tables) inserted in date order.

    Each goes after every event dated on or before it (equal dates keep the order
    given), so the file's events keep their order and the document stays in date
    order. The result is validated by :func:`scenario_from_dict`, like a file; a problem
    in an added event is reported at ``"<label>, field <key>"``, one in the scenario's
    own events at its index before the insertion.
    """
    raw = copy.deepcopy(scenario.raw)
    own = raw.get("events", [])
    if not isinstance(own, list):
        own = []
    # (label of an added event or None, index before the insertion, table)
    tagged: list[tuple[str | None, int, Any]] = [(None, i, ev) for i, ev in enumerate(own)]
    for label, ev in zip(labels, events, strict=True):
        date = ev.get("date") if isinstance(ev, dict) else None
        at = len(tagged)
        if type_ok(date, "date"):
            dated = [
                i
                for i, (_, _, other) in enumerate(tagged)
                if isinstance(other, dict)
                and type_ok(other.get("date"), "date")
                and other["date"] <= date
            ]
            at = dated[-1] + 1 if dated else 0
        tagged.insert(at, (label, -1, ev))
    raw["events"] = [ev for _, _, ev in tagged]
    try:
        out = scenario_from_dict(raw, scenario.source, scenario.overrides)
    except ScenarioError as exc:
        raise ScenarioError(scenario.source, _relabel(exc.problems, tagged, cli)) from None
    new_index = {old: i for i, (label, old, _) in enumerate(tagged) if label is None}
    records = []
    for rec in scenario.added_events:
        records.append({**rec, "index": new_index.get(rec["index"], rec["index"])})
    for i, (label, _, ev) in enumerate(tagged):
        if label is not None:
            records.append(_record(ev, i, label))
    out.added_events = sorted(records, key=lambda r: r["index"])
    out.dropped_events = copy.deepcopy(scenario.dropped_events)
    return out


def drop_events(scenario: Scenario, indices: Sequence[int], *, cli: bool = False) -> Scenario:
    """``scenario`` without the events at ``indices`` (positions in :attr:`Scenario.events`,
    as ``python -m sim validate`` numbers them and the ``# N`` comments of the shipped files).

    What-if events cannot be dropped (leave them out instead). The result is validated
    like a file, so dropping an event that another one refers to is reported. Each drop is
    recorded in :attr:`Scenario.dropped_events` (the event's fields, its ``index`` and
    ``dropped_by``), and so in summaries and manifests.
    """
    what = "--drop-event" if cli else "drop_events"
    own = scenario.raw.get("events", [])
    own = own if isinstance(own, list) else []
    wanted: list[int] = []
    for index in indices:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise ValueError(f"{what}: expected an event index (a whole number), found {index!r}")
        index = int(index)
        if not 0 <= index < len(own):
            known = f"0 to {len(own) - 1}" if own else "none"
            raise ValueError(
                f"{what} {index}: no such event; the scenario's events are numbered {known} "
                "(python -m sim validate lists them)"
            )
        if index in wanted:
            continue
        wanted.append(index)
    added = {int(rec["index"]) for rec in scenario.added_events}
    clash = sorted(set(wanted) & added)
    if clash:
        raise ValueError(f"{what} {clash[0]}: a what-if event; leave it out instead")
    if not wanted:
        return scenario
    raw = copy.deepcopy(scenario.raw)
    raw["events"] = [ev for i, ev in enumerate(own) if i not in wanted]
    out = scenario_from_dict(raw, scenario.source, scenario.overrides)
    out.added_events = [
        {**rec, "index": rec["index"] - sum(1 for i in wanted if i < rec["index"])}
        for rec in scenario.added_events
    ]
    by = "--drop-event {}" if cli else "drop_events={}"
    records = [
        {k: v for k, v in _record(own[i], i, by.format(i)).items() if k != "added_by"}
        | {"dropped_by": by.format(i)}
        for i in sorted(wanted)
        if isinstance(own[i], dict)
    ]
    out.dropped_events = [*copy.deepcopy(scenario.dropped_events), *records]
    return out


def _relabel(problems: list[Problem], tagged: list[tuple], cli: bool) -> list[Problem]:
    out = []
    for p in problems:
        parts = p.path.split(".")
        if len(parts) >= 2 and parts[0] == "events" and parts[1].isdigit():
            k = int(parts[1])
            if k < len(tagged):
                label, old, _ = tagged[k]
                rest = ".".join(parts[2:])
                if label is None:
                    p = Problem(".".join(["events", str(old), *parts[2:]]), p.message)
                else:
                    message = p.message.replace(" (unquoted)", "")
                    if cli:
                        message = message.replace(
                            "mission = [sender, host]", "mission=sender:host"
                        ).replace("[sender, host]", "sender:host")
                    p = Problem(f"{label}, field {rest}" if rest else label, message)
        out.append(p)
    return out


def take_offer_event(
    scenario: Scenario, state: str, *, label: str = "take_offer", cli: bool = False
) -> dict[str, Any]:
    """The event by which ``state`` accepts the conditional offer made toward it.

    In this engine an offer ("I cancel my pending measures against you if you cancel
    yours") is accepted when its target cancels its own pending measures against the
    offerer. So this is a ``cancel`` by ``state`` against the offerer, dated the first
    step after the offer's (or the forecast start, if later: a cancel in the history is
    not seen as an acceptance). The scenario must hold exactly one ``offer`` event with
    ``target = state``; otherwise :class:`ScenarioError` says why, at ``label``.
    """

    def how(date: dt.date, offerer: str) -> str:
        if cli:
            return f"--event date={date},actor={state},target={offerer},kind=cancel"
        return (
            f"events=[{{'date': '{date}', 'actor': '{state}', "
            f"'target': '{offerer}', 'kind': 'cancel'}}]"
        )

    def fail(message: str) -> ScenarioError:
        return ScenarioError(scenario.source, [Problem(label, message)])

    if not isinstance(state, str) or state not in scenario.states:
        ids = sorted(scenario.states)
        hint = difflib.get_close_matches(str(state), ids, n=1, cutoff=0.5)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise fail(f"expected a state id ({', '.join(ids)}), found {state!r}{extra}")
    offer_code = instruments.code_of("offer")
    offers = [ev for ev in scenario.events if ev.kind == offer_code and ev.target == state]
    if not offers:
        other = next(iter(sorted(set(scenario.states) - {state})))
        raise fail(
            f'the scenario has no offer toward {state} (no event with kind = "offer" and '
            f'target = "{state}"), so there is nothing to accept. Add the offer as an event, '
            f"or date {state}'s cancellation yourself, e.g. {how(scenario.forecast_start, other)}"
        )
    if len(offers) > 1:
        listed = "; ".join(f"events.{ev.index}: {ev.actor} on {ev.date}" for ev in offers)
        choices = " or ".join(
            how(max(scenario.date_of(ev.step + 1), scenario.forecast_start), ev.actor)
            for ev in offers
        )
        raise fail(
            f"the scenario has {len(offers)} offers toward {state} ({listed}), so which one "
            f"to accept is ambiguous; add the acceptance you mean as an event: {choices}"
        )
    offer = offers[0]
    after = scenario.date_of(offer.step + 1)
    date = max(after, scenario.forecast_start)
    if date > scenario.end:
        raise fail(
            f"{offer.actor}'s offer of {offer.date} (events.{offer.index}) is made in the "
            f"scenario's last step ({scenario.date_of(offer.step)} to {scenario.end}): "
            "no step is left to accept it in"
        )
    when = "the first step after it" if date == after else "the forecast start"
    note = (
        f"What-if: {state} accepts {offer.actor}'s conditional offer of {offer.date} "
        f"(events.{offer.index}) on {date}, {when}, by cancelling its own pending measures "
        f"against {offer.actor}, which the engine treats as acceptance ({offer.actor}'s "
        f"pending measures against {state} are then cancelled too)."
    )
    return {
        "date": date,
        "actor": state,
        "target": offer.actor,
        "kind": "cancel",
        "source": WHATIF_SOURCE,
        "note": note,
    }


# ------------------------------------------------------------------ warnings
#: Hostile acts of the history further apart than this are not one round of orders
#: (for the recall_days that :func:`forecast_warnings` suggests).
_ROUND_GAP_DAYS = 28


def _may_be_positive(value: Any) -> bool:
    if isinstance(value, Distribution):
        return value.support()[1] > 0
    return isinstance(value, int | float) and value > 0


def _policy_mechanisms(values: dict[str, Any]) -> tuple[bool, bool]:
    """(may answer a perceived act, may act unprompted) for one validated policy table."""
    kind = values.get("kind", "scripted")
    cls = POLICIES.get(kind)
    if cls is None or kind not in BUILTIN_POLICIES:
        return True, True  # a plugin policy: what it does is its own business
    if not cls.active:
        return False, False

    def value(key: str) -> Any:
        if key in values:
            return values[key]
        params = cls.all_params()
        return params[key].default if key in params else None

    answers = _may_be_positive(value("reciprocate")) or (
        kind != "passive" and _may_be_positive(value("respond_prob"))
    )
    unprompted = (
        _may_be_positive(value("provocation_rate"))
        or _may_be_positive(value("conciliation_rate"))
        or cls.initiate is not Policy.initiate  # grit's initiatives
    )
    return answers, unprompted


def forecast_warnings(scenario: Scenario) -> list[str]:
    """Plain-language warnings about a scenario that cannot forecast anything.

    Policies answer only what they perceive: events dated on or after the forecast
    start, and the history's hostile acts of the last ``recall_days`` days. A scenario
    with neither, and no policy that acts unprompted (``provocation_rate`` or
    ``conciliation_rate`` above 0, grit's initiatives, or a plugin policy), replays the
    same history in every run: nothing is forecast. (Solidarity needs an ally's act to
    join, so it starts nothing either.) Scenarios in which no policy could answer
    anything (every state ``scripted``: a replay) get no warning. Returns ``[]`` when
    all is well.
    """
    answering = False
    for st in scenario.states.values():
        for values in st.policies.values():
            answers, unprompted = _policy_mechanisms(values)
            if unprompted:
                return []
            answering |= answers
    if not answering:
        return []
    fs = scenario.forecast_start
    seen = [ev for ev in scenario.events if not ev.own and ev.date >= fs]
    if seen:
        return []
    hostile = [
        ev
        for ev in scenario.events
        if not ev.own and instruments.by_code(ev.kind).hostile and ev.date < fs
    ]
    rd = scenario.recall_days
    recall_from = (
        None if rd == 0 else dt.date.min if (fs - dt.date.min).days <= rd else fs - dt.timedelta(rd)
    )
    if recall_from is not None and any(ev.date >= recall_from for ev in hostile):
        return []
    later = [ev for ev in scenario.events if ev.date >= fs]
    head = (
        f"no event the policies see is dated on or after forecast_start ({fs})"
        + (" (those that are, are states' measures on their own missions)" if later else "")
        + ", "
    )
    if recall_from is None:
        head += "recall_days is 0 (so the policies perceive none of the history's acts), "
    else:
        head += (
            f"recall_days = {rd} reaches back only to {recall_from}, after the history's "
            "last hostile act, "
        )
    head += (
        "and no policy acts unprompted (no provocation_rate or conciliation_rate above 0, "
        "no initiatives as grit takes): every run replays the same history and nothing is "
        "forecast."
    )
    if not hostile:
        return [
            head + " The history has no hostile act to recall either: date an event on or "
            "after forecast_start (e.g. with --event), or give a policy a provocation_rate."
        ]
    # The last round of orders: hostile acts no more than _ROUND_GAP_DAYS apart, back
    # from the last one.
    dates = sorted({ev.date for ev in hostile})
    first = dates[-1]
    for earlier in reversed(dates[:-1]):
        if (first - earlier).days > _ROUND_GAP_DAYS:
            break
        first = earlier
    n = (fs - first).days
    recalled = [ev for ev in hostile if ev.date >= first]

    def act(ev: EventSpec) -> str:
        amount = next((v for v in (ev.size, ev.level, ev.rate) if v is not None), None)
        what = instruments.label(ev.kind) + (f" {amount:g}" if amount is not None else "")
        return f"{what} by {ev.actor} against {ev.target} on {ev.date}"

    shown = ", ".join(act(ev) for ev in recalled[:4]) + (
        f" and {len(recalled) - 4} more" if len(recalled) > 4 else ""
    )
    return [
        head + f" Set recall_days to {n} days (recall_days = {n} in [scenario], or "
        f"--set scenario.recall_days={n}) so that the orders of the last weeks before the "
        f"forecast are answered (it recalls {shown}), or date an event on or after "
        "forecast_start."
    ]
