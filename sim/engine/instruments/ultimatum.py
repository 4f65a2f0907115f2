"""An ultimatum: "reverse this by the deadline, or we do X".

Russia's order of 1 December 2021 set a further group of US staff to leave by 1 July
2022 "if no compromise" (A29 and A.3 in ``../shared/data/expulsions_timeline.md``);
CAMEO codes such a demand 139, "Give ultimatum" (E.1).
It is the dual of a conditional offer: an offer promises to withdraw measures if the
counterpart withdraws its own, an ultimatum threatens a measure unless it does.

The engine (:meth:`EscalationModel._issue_ultimatum`, ``_enforce_ultimatum``) keeps it
pending until its deadline. There, in every run in which the target has made no
concession on the actor's mission in its country since (a cancel, lift or restore, or
an offer of the actor's accepted; the target's ``comply`` parameter makes one likely),
the actor announces the consequence ``then`` on the target's mission, as a hostile
measure with the actor's ``notice`` (or ``then_notice`` days); elsewhere the ultimatum
is met and nothing happens.
"""

from __future__ import annotations

from typing import ClassVar

from sim.engine.instruments import INSTRUMENTS, register_instrument
from sim.engine.instruments.base import MAX_STAFF, EventField, Instrument

#: The amounts an ultimatum carries for its consequence.
_AMOUNTS = ("size", "level", "rate")


@register_instrument
class Ultimatum(Instrument):
    """Demand a concession by the deadline, or carry out ``then`` (with its amount)."""

    name = "ultimatum"
    code = 11
    hostile = False
    # Neither a hostile act nor a conciliatory move: nobody answers or reciprocates it.
    conciliatory = False
    reverses = False
    doc = (
        "demand a concession by the deadline, or carry out a hostile measure "
        "(then; its size, level or rate; deadline required; then_notice in days)"
    )
    fields: ClassVar[dict[str, EventField]] = {
        "then": EventField(
            "then", "hostile", True, doc="the measure carried out if the demand is not met"
        ),
        "size": EventField(
            "size", "int", False, low=1, high=MAX_STAFF, doc="the consequence's size"
        ),
        "level": EventField(
            "level", "int", False, low=0, high=MAX_STAFF, doc="the consequence's level"
        ),
        "rate": EventField(
            "rate", "float", False, low=0, high=MAX_STAFF, doc="the consequence's rate"
        ),
        "then_notice": EventField(
            "then_notice", "int", False, low=1, high=3660,
            doc="days from the consequence's announcement to its deadline "
            "(default: the actor's policy notice)",
        ),
    }  # fmt: skip

    def check_event(self, values):
        problems = []
        if values.get("deadline") is None:
            problems.append(
                ("deadline", "required for an ultimatum: the date by which the target must comply")
            )
        then = INSTRUMENTS.get((values.get("options") or {}).get("then") or "")
        if then is None:
            return problems
        for key in _AMOUNTS:
            field, value = then.fields.get(key), values.get(key)
            if field is None:
                if value is not None:
                    problems.append(
                        (key, f"not used by the consequence: {then.name} takes no {key}")
                    )
                continue
            if value is None:
                if field.required or (key == then.amount_field and field.default is None):
                    # e.g. a cap, whose level is optional only for a parity cap, which
                    # an ultimatum's consequence cannot be (it carries no options).
                    problems.append(
                        (key, f"required: the consequence, {then.name}, needs its {key}")
                    )
                else:
                    values[key] = field.default
            elif (field.low is not None and value < field.low) or (
                field.high is not None and value > field.high
            ):
                problems.append(
                    (key, f"expected a {key} from {field.low:g} to {field.high:g} for "
                     f"{then.name}, found {value}")
                )  # fmt: skip
        others = [k for k, f in then.fields.items() if k not in _AMOUNTS and f.required]
        if others:
            problems.append(
                ("then", f"an ultimatum cannot carry out {then.name}: it needs {', '.join(others)}")
            )
        return problems

    def ring_depth(self, event, step_days):
        # The consequence is announced at the deadline and falls due then_notice later.
        days = event.options.get("then_notice")
        notice = 0 if days is None else max(1, days // step_days)
        return max(super().ring_depth(event, step_days), notice + 1)

    def carry_out(self, model, event, m, t, observed):
        return model._issue_ultimatum(event, m, t, observed)

    def describe(self, amount, size):
        return "gives an ultimatum"
