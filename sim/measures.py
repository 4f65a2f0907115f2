"""Kept so that ``sim.measures`` still imports: the missions and instruments now live in
:mod:`sim.engine.missions` and :mod:`sim.engine.instruments`."""

from sim.engine.missions import (
    CONCILIATORY_KINDS,
    HOSTILE_KINDS,
    NO_LIMIT,
    VISA_SPAN,
    Kind,
    Missions,
    Pending,
    whole_staff,
)

__all__ = [
    "CONCILIATORY_KINDS",
    "HOSTILE_KINDS",
    "NO_LIMIT",
    "VISA_SPAN",
    "Kind",
    "Missions",
    "Pending",
    "whole_staff",
]
