"""What an instrument is: the declaration every measure on embassy staff fills in.

An instrument is one class (one file in this package, or in a plugin) registered with
:func:`register_instrument`. It declares

* its ``name`` (the ``kind`` of scenario events and the label in the event record),
  its ``code`` (a small integer stored in the engine's arrays and the record), whether
  it is hostile or conciliatory, and a one-line ``doc``;
* its scenario fields (``fields``: which of ``size``, ``level``, ``rate``, ``lifts`` an
  event of this kind takes, with bounds and defaults), which the scenario reader
  validates without naming any instrument;
* for hostile instruments, its behaviour on the missions' arrays: where it can still
  bite (``feasible``), the amount a decision of a given size means (``amount_for``),
  its announcement (``announce``, which returns its size in staff-equivalents), what
  happens at its deadline (``take_effect``, then ``enforce`` each step), how it is
  cancelled (``cancel``) and lifted (``lift``);
* its line in the event record and the story (``record_amount``, ``describe``).

Every array is (missions, runs) unless stated; ``m`` is a mission index, ``runs`` a
selection of the block's runs (a slice or an index array), ``slot`` a row of the
pending ring buffers (``deadline % depth``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from sim.engine.missions import Missions

__all__ = ["MAX_STAFF", "EventField", "Instrument"]

#: The largest staff count or level a scenario may give.
MAX_STAFF = 10_000_000


@dataclass(frozen=True)
class EventField:
    """A field an event of some instrument takes in a scenario.

    ``kind`` is ``int``, ``float``, ``bool``, ``liftable`` (the name of a registered
    instrument that a lift can remove), ``hostile`` (the name of a registered hostile
    instrument) or ``choice`` (one of ``choices``); ``default`` is used when an optional
    field is left out (``None``: stays unset).

    The four amounts (``size``, ``level``, ``rate``, ``lifts``) are attributes of
    :class:`~sim.spec.EventSpec`; any other field an instrument declares (a category, a
    flag, the consequence of an ultimatum) is in the event's ``options``.
    """

    name: str
    kind: str = "int"
    required: bool = True
    default: Any = None
    low: float | None = None
    high: float | None = None
    doc: str = ""
    choices: tuple[str, ...] = ()


class Instrument:
    """Base class of every instrument. Subclasses set the class attributes and, for a
    hostile instrument, override the behaviour methods that apply to it."""

    name: ClassVar[str]
    code: ClassVar[int]
    hostile: ClassVar[bool] = True
    doc: ClassVar[str] = ""
    #: Event fields, by name (``size``, ``level``, ``rate`` or ``lifts``).
    fields: ClassVar[dict[str, EventField]] = {}
    #: Fields this instrument adds to ``[missions.<id>]`` in scenarios (integers, e.g. a
    #: plugin's ``institute_staff``), read into the missions' arrays by ``allocate``.
    mission_fields: ClassVar[dict[str, EventField]] = {}
    #: The event field holding the amount announced (None: the instrument has none).
    amount_field: ClassVar[str | None] = None
    #: A lasting restriction that a conciliatory ``lift`` can remove; lower
    #: ``lift_priority`` is lifted first.
    liftable: ClassVar[bool] = False
    lift_priority: ClassVar[int] = 0
    #: Recorded as the staff (or posts) it could actually act on, and as not feasible
    #: where that was nobody (expulsions, closures); else as announced.
    counts_heads: ClassVar[bool] = False
    #: Once in force, it removes staff every step (departures under a visa denial),
    #: which the event record attributes to it.
    acts_in_force: ClassVar[bool] = False
    #: Its effect is the mission closed (a question about it counts a mission emptied
    #: by any means).
    empties_mission: ClassVar[bool] = False
    #: For an instrument that is not hostile: whether its events are conciliatory moves,
    #: which the counterpart perceives and may reciprocate. An ultimatum is neither a
    #: hostile act nor a conciliatory move.
    conciliatory: ClassVar[bool] = True
    #: A conciliatory move that undoes something (cancel, lift, restore, a settlement),
    #: and so meets an ultimatum's demand; an offer only proposes.
    reverses: ClassVar[bool] = True
    #: Whose staff changes at its deadline the event record attributes to its rows:
    #: instrument names, or ``"restore"`` (a settlement's cap cuts and restores).
    record_effects_of: ClassVar[tuple[str, ...]] = ()
    #: The staff category its amount counts (:mod:`sim.engine.categories`; ``None``:
    #: several, or none), and every category it can remove.
    category: ClassVar[str | None] = None
    categories: ClassVar[tuple[str, ...]] = ()

    # --------------------------------------------------------------- set-up
    def allocate(self, missions: Missions) -> None:
        """Create this instrument's standing state and pending buffers on ``missions``."""

    # ------------------------------------------------------------- events
    def carry_out(self, model, event, m: int, t: int, observed: bool) -> None:
        """Carry out a scenario event of a conciliatory instrument on mission m at step
        t (hostile events are announced by the engine through ``announce``).
        ``observed``: the counterpart perceives it (an event of the forecast)."""
        raise NotImplementedError(f"{self.name} has no scenario events")

    # ------------------------------------------------------------ deciding
    def feasible(self, missions: Missions, m: int) -> np.ndarray:
        """Runs (bool, shape (runs,)) in which this instrument can still bite on mission m."""
        return np.zeros(missions.n_runs, dtype=bool)

    def feasible_as_substitute(self, missions: Missions, m: int, count: np.ndarray) -> np.ndarray:
        """Runs in which it may stand in for a preferred instrument that cannot bite,
        answering a decision of ``count`` staff (climbing the ladder keeps the size)."""
        return self.feasible(missions, m)

    def amount_for(self, missions: Missions, m: int, count: np.ndarray) -> np.ndarray:
        """The amount (staff, posts, level or rate) that acts on ``count`` staff of m."""
        return count

    def event_amount(self, event: Any) -> float:
        """The amount a scenario event of this kind announces."""
        return 0 if self.amount_field is None else getattr(event, self.amount_field)

    def check_event(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        """Checks of a scenario event across its fields, after each field was checked
        alone: ``(field, message)`` problems (field ``""``: the event). ``values`` are
        the event's checked values (``deadline``, the amounts, ``options``); it may
        fill in defaults that depend on other fields."""
        return []

    def ring_depth(self, event: Any, step_days: int) -> int:
        """Slots of the engine's pending ring buffers an event of this kind needs: one
        more than the steps from its announcement to the last deadline it sets."""
        return event.deadline_step - event.step + 1

    # ------------------------------------------------- temporary measures
    def end_temporary(
        self,
        missions: Missions,
        m: int,
        where: np.ndarray,
        announced: np.ndarray,
        removed: np.ndarray,
        deadline: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """End a temporary measure (an event's ``until``) on mission m where ``where``.

        ``announced`` is its size at announcement (staff-equivalents) and ``removed``
        the staff it removed, per run. By default a liftable restriction is lifted, and
        any other measure lets the staff it removed come back by a restore due at
        ``deadline`` (bounded as restores are: never above a cap, never into a
        suspended mission, never more than measures removed). Returns, per run, the
        staff back at once and the staff restoring.
        """
        none = np.zeros(missions.n_runs, dtype=np.int64)
        if self.liftable:
            self.lift(missions, m, where)
            return none, none
        room = np.maximum(missions.restorable(m), 0)
        restoring = np.where(where, np.minimum(removed, room), 0).astype(np.int64)
        missions.restore(m, restoring, deadline)
        return none, restoring

    # ---------------------------------------------------------- announcing
    def announce(
        self,
        missions: Missions,
        m: int,
        where: np.ndarray,
        amount: np.ndarray,
        slot: int,
        runs: Any,
        own: bool,
        ctx: dict[str, np.ndarray],
    ) -> np.ndarray:
        """Put the measure (``where``, over the selected ``runs``) into the pending
        buffers at ``slot``; return its size in staff-equivalents per selected run.

        ``ctx`` holds values computed once per announcement before any instrument
        writes (``total``, ``net_total``), so that the order of the instruments never
        matters, and the scenario event's ``options`` (``{}`` for a policy's decision).
        ``own`` marks a state's measure on its own mission. With staff weights
        (``missions.weighted``) the size is the heads removed at their categories'
        weights, and an instrument that counts heads leaves them in
        ``missions.reached[code]`` for the event record.
        """
        raise NotImplementedError

    # ------------------------------------------------------------- effects
    def take_effect(self, missions: Missions, slot: int, note) -> None:
        """Carry out what falls due at ``slot`` (its buffers are emptied afterwards).

        ``note(instrument, removed)`` records the staff it removed per mission and run.
        """

    def enforce(self, missions: Missions, note) -> None:
        """Enforce a standing restriction every step, after every instrument took effect."""

    def clear(self, missions: Missions, slot: int) -> None:
        """Empty this instrument's pending buffers at ``slot`` once the step is done."""

    def room(self, missions: Missions, room: np.ndarray, totals: np.ndarray) -> np.ndarray:
        """The staff restores may still bring back per mission and run, given ``room``
        as other instruments left it (a cap or a suspension lowers it)."""
        return room

    def committed(self, missions: Missions, m: int):
        """Staff of mission m its pending measures have already ordered out by name, per
        run: caps and answers are counted net of them (expulsions only, built in)."""
        return 0

    def pending_heads(self, missions: Missions, m) -> dict[str, np.ndarray]:
        """Heads of each staff category its pending measures on mission m (an index or
        a slice) will remove at their deadlines, per run: what a parity cap counts the
        counterpart's mission net of."""
        return {}

    def check_event_in_context(
        self, values: dict[str, Any], context: dict[str, Any]
    ) -> list[tuple[str, str]]:
        """Problems of a scenario event's fields taken together with the missions, as
        (field, message) (see also ``check_event``).

        ``values`` are its validated amounts and ``options`` (defaults filled in, None
        where a value was wrong: each field was already checked on its own);
        ``context`` holds ``given`` (the keys the event wrote), the ``sender`` and
        ``host`` of the mission it hits and that mission's ``counterpart`` (the id of
        the mission of its host in its sender; None if the scenario has none)."""
        return []

    def pending_staff(self, missions: Missions, m: int):
        """Staff-equivalents its pending measures on mission m will remove by name, per
        run (what an offer to withdraw them is worth, and what a cancellation calls
        off)."""
        return 0

    def cancel(self, missions: Missions, m: int, cols: np.ndarray) -> np.ndarray:
        """Call off what is pending on mission m in runs ``cols`` (the sender's own
        measures stay); return the staff-equivalents called off per run of ``cols``."""
        return np.zeros(len(cols), dtype=np.int64)

    # -------------------------------------------------------------- lifting
    def restricts(self, missions: Missions, m: int) -> np.ndarray:
        """Runs in which this restriction holds on mission m (liftable instruments)."""
        return np.zeros(missions.n_runs, dtype=bool)

    def lift(self, missions: Missions, m: int, where: np.ndarray) -> None:
        """Remove the restriction on mission m where ``where``."""

    # --------------------------------------------------------------- record
    def record_amount(self, size: np.ndarray, amount: np.ndarray, per_post: int) -> np.ndarray:
        """The amount written in the event record for an announcement of ``size``."""
        return amount

    def describe(self, amount: float, size: float) -> str:
        """The measure in words, for the story of a run."""
        return self.name.replace("_", " ")
