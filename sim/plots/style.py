"""Shared styling and helpers of every figure family.

Font sizes, the colour map and the resolutions; the line style, marker, colour and
hatch of each outcome (read from :mod:`sim.outcome_classes` when a figure is drawn);
readable labels for parameters and outcomes, and the display names the figures give a
scenario, its states, missions and events (:func:`scenario_title`, :func:`state_label`,
:func:`mission_label`, :func:`event_label`); and the small helpers the figure modules
share: a new figure or the one an Axes is on, the title with its note line, slanted
tick labels and the text box drawn over data.

Display names, one rule for every figure:

* a **state** is its ``name`` (a trailing parenthesis dropped), or its id in capitals
  when the id is the name's initials (``us``, "United States" -> "US");
* a **mission** is "<sender> mission in <host>": "US mission in Russia", "Russia's
  mission in the US" (an initialism is used as an adjective and takes "the" as a
  host; a name takes "'s"); its id is added when two missions share sender and host;
* a **scenario** is its description's first clause (up to ":", ";" or the end of the
  first sentence, cut at a comma if longer than 80 characters), else its id;
* an **event** is "<actor> <what the instrument's describe() says>", and for a
  hostile one "(<mission owner> mission)": "Russia expels 12 diplomats (US mission)".
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.transforms import ScaledTranslation

from sim.engine import instruments
from sim.engine.kinds import NO_LIMIT
from sim.outcome_classes import registered_outcomes

#: Perceptually uniform and readable by colour-blind readers and in greyscale.
CMAP = "cividis"
PNG_DPI = 150
#: The resolution of a new figure, and so of a figure shown inline in a notebook
#: (IPython draws a figure at its own dpi, whatever ``rcParams["figure.dpi"]`` says):
#: 10-point text is about 15 pixels high, readable at the notebook's width.
FIGURE_DPI = 110
TITLE_SIZE = 13
LABEL_SIZE = 12
TICK_SIZE = 10
NOTE_SIZE = 10


def _outcome_styles() -> dict[str, dict[str, Any]]:
    """Line style, marker and colour per declared outcome, read when a figure is drawn."""
    return {
        c.name: {"color": c.color, "linestyle": c.linestyle, "marker": c.marker}
        for c in registered_outcomes()
    }


def _outcome_hatches() -> dict[str, str]:
    """Hatch per declared outcome for bars, read when a figure is drawn."""
    return {c.name: c.hatch for c in registered_outcomes()}


#: Line style, marker and colour (Okabe-Ito) per outcome: told apart without colour.
#: (The outcomes declared at import; the figures read them afresh when drawn.)
OUTCOME_STYLES: dict[str, dict[str, Any]] = _outcome_styles()
#: Styles and hatches for outcomes not declared in :mod:`sim.outcome_classes`.
_SPARE_STYLES = [
    {"color": "#009E73", "linestyle": "-.", "marker": "D"},
    {"color": "#CC79A7", "linestyle": (0, (5, 1, 1, 1)), "marker": "v"},
]
_SPARE_HATCHES = ["\\\\\\", "++", "oo"]
#: Path segments that carry no information in an axis label.
_GENERIC_SEGMENTS = {"states", "policy", "params", "parameters"}
#: Half-transparent white box behind text drawn over data.
_TEXT_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}


def param_label(path: str, scenario: Any = None) -> str:
    """A readable label for a dotted parameter path.

    ``"states.us.policy.ratio"`` -> ``"us ratio"``: segments that say nothing
    (``states``, ``policy``) are dropped and underscores become spaces. Given the
    scenario, state and mission ids become their display names (``"US ratio"``).
    """
    parts = [p for p in str(path).split(".") if p]
    words = []
    for i, part in enumerate(parts):
        if part in _GENERIC_SEGMENTS and len(parts) > 1:
            continue
        before = parts[i - 1] if i else ""
        if scenario is not None and before in ("states", "toward") and part in scenario.states:
            words.append(state_label(scenario, part))
        elif scenario is not None and before == "missions" and part in scenario.missions:
            words.append(mission_label(scenario, part))
        else:
            words.append(part.replace("_", " "))
    return " ".join(words)


# ---------------------------------------------------------------- display names
#: Where a scenario's readable name ends in its description: the first ":", ";" or end
#: of sentence.
_CLAUSE_END = re.compile(r":\s|;\s|\.\s|\.$")
_TITLE_CHARS = 80


def scenario_title(scenario: Any) -> str:
    """The scenario's readable name: its description's first clause, else its id.

    "US–Russia expulsions: the 2021 record ..." -> "US–Russia expulsions"; a clause
    longer than 80 characters is cut at its last comma before that.
    """
    text = str(getattr(scenario, "description", "") or "").strip()
    head = _CLAUSE_END.split(text, maxsplit=1)[0].strip()
    while len(head) > _TITLE_CHARS and ", " in head:
        head = head.rsplit(", ", 1)[0]
    return head if head and len(head) <= _TITLE_CHARS else str(scenario.name)


def _is_initialism(scenario: Any, sid: str) -> bool:
    """The state's id is the initials of its name ("us", "United States")."""
    words = re.split(r"[\s-]+", _plain_name(scenario, sid))
    return len(words) >= 2 and sid.lower() == "".join(w[:1] for w in words).lower()


def _plain_name(scenario: Any, sid: str) -> str:
    state = scenario.states.get(sid) if scenario is not None else None
    name = str(state.name) if state is not None and state.name else sid
    return re.sub(r"\s*\(.*\)\s*$", "", name).strip() or name


def state_label(scenario: Any, sid: str) -> str:
    """A state's display name: "Russia"; "US" for the United States (id = initials)."""
    return sid.upper() if _is_initialism(scenario, sid) else _plain_name(scenario, sid)


def _owner(scenario: Any, sid: str) -> str:
    """The sender as the owner of a mission: "US" (an initialism), "Russia's"."""
    if _is_initialism(scenario, sid):
        return sid.upper()
    name = _plain_name(scenario, sid)
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _as_host(scenario: Any, sid: str) -> str:
    return f"the {sid.upper()}" if _is_initialism(scenario, sid) else _plain_name(scenario, sid)


def mission_label(scenario: Any, mid: str) -> str:
    """A mission's display name: "US mission in Russia", "Russia's mission in the US"
    (with its id when another mission has the same sender and host)."""
    mission = scenario.missions.get(mid)
    if mission is None:
        return mid
    label = f"{_owner(scenario, mission.sender)} mission in {_as_host(scenario, mission.host)}"
    pair = (mission.sender, mission.host)
    twins = [m for m in scenario.missions.values() if (m.sender, m.host) == pair]
    return f"{label} ({mid})" if len(twins) > 1 else label


def mission_owner_label(scenario: Any, mid: str) -> str:
    """A mission named by its sender only, for a short label: "US mission"."""
    mission = scenario.missions.get(mid)
    if mission is None:
        return mid
    return f"{_owner(scenario, mission.sender)} mission"


def event_label(scenario: Any, event: Any, amount: float | None = None) -> str:
    """A scenario event in words: "Russia expels 12 diplomats (US mission)".

    What the act is comes from its instrument's ``describe`` (as in a run's story), with
    ``amount`` (the amount the event record shows, e.g. a parity cap's level) or else
    the event's own; a hostile act names the mission it hits.
    """
    actor = state_label(scenario, event.actor)
    try:
        instrument = instruments.by_code(int(event.kind))
    except KeyError:  # an instrument no longer registered: its code is all there is
        return f"{actor}: instrument {int(event.kind)}"
    if amount is None or not np.isfinite(amount):
        amount = instrument.event_amount(event)
    if amount is None or amount >= NO_LIMIT:
        # no amount of its own (a parity cap's level is set when it is announced)
        what = instrument.name.replace("_", " ")
    elif instrument.name == "ban_local_hires" and amount == 0:
        # describe() says "bans local staff above 0", which reads as a count of staff
        what = "bans all local staff"
    else:
        what = instrument.describe(amount, amount)
    label = f"{actor} {what}"
    if instrument.hostile and event.mission in scenario.missions:
        label += f" ({mission_owner_label(scenario, event.mission)})"
    return label


def outcome_label(outcome: str) -> str:
    """``"de_escalation"`` -> ``"P(de-escalation)"``."""
    return f"P({outcome.replace('_', '-')})"


def _outcome_name(outcome: str) -> str:
    """``"de_escalation"`` -> ``"de-escalation"``."""
    return str(outcome).replace("_", "-")


def _style(outcome: str, index: int) -> dict[str, Any]:
    styles = _outcome_styles()
    if outcome in styles:
        return styles[outcome]
    return _SPARE_STYLES[index % len(_SPARE_STYLES)]


def _hatch(outcome: str, index: int) -> str:
    hatches = _outcome_hatches()
    if outcome in hatches:
        return hatches[outcome]
    return _SPARE_HATCHES[index % len(_SPARE_HATCHES)]


def _root_figure(ax: Axes) -> Figure:
    try:
        return ax.get_figure(root=True)  # matplotlib >= 3.10
    except TypeError:  # pragma: no cover - older matplotlib
        return ax.figure


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure pyplot does not track, laid out by constrained layout, at FIGURE_DPI."""
    return Figure(figsize=figsize, layout="constrained", dpi=FIGURE_DPI)


def _new_or_given(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig = _new_figure(figsize)
        return fig, fig.add_subplot()
    return _root_figure(ax), ax


def _legend_below(ax: Axes, handles: list, labels: list[str], **options: Any) -> Legend:
    """A legend of ``ax`` centred under its x axis (tick labels and axis label), so the
    plot keeps its full width; a figure laid out by constrained layout makes room."""
    fig = _root_figure(ax)
    axes_bottom = ax.get_window_extent().y0
    decorations = ax.xaxis.get_tightbbox()  # the x tick labels and axis label
    decorations_bottom = decorations.y0 if decorations is not None else axes_bottom
    drop = max(axes_bottom - decorations_bottom, 0.0) / fig.dpi + 0.06  # inches
    under = ax.transAxes + ScaledTranslation(0.0, -drop, fig.dpi_scale_trans)
    return ax.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=under,
        **options,
    )


def _wrap_to_axes(ax: Axes, text: str, size: float) -> str:
    """``text`` wrapped to lines that fit the width of the axes (estimated before layout:
    an average character is about 0.55 of the font size wide)."""
    fig = _root_figure(ax)
    width_pt = fig.get_figwidth() * ax.get_position().width * 72.0
    chars = max(int(width_pt / (0.55 * size)), 20)
    return "\n".join(textwrap.wrap(text, chars)) if len(text) > chars else text


def _title(ax: Axes, main: str, *notes: str) -> None:
    """Title on the first line; notes (runs, skipped points) in smaller type under it.
    Both wrap to the axes' width, so no line runs off the figure."""
    main = _wrap_to_axes(ax, main, TITLE_SIZE)
    note = _wrap_to_axes(ax, "; ".join(n for n in notes if n), NOTE_SIZE)
    lines = note.count("\n") + 1 if note else 0
    ax.set_title(main, fontsize=TITLE_SIZE, pad=10 + 14 * lines if note else 8)
    for old in [t for t in ax.texts if t.get_gid() == "title_note"]:
        old.remove()  # a title set again replaces its note
    if note:
        ax.annotate(
            note,
            xy=(0.5, 1.0),
            xycoords="axes fraction",
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=NOTE_SIZE,
            color="0.25",
            gid="title_note",
        )


def _slant(ax: Axes) -> None:
    """Long x tick labels at 30 degrees, each ending under its tick."""
    for tick in ax.get_xticklabels():
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
        tick.set_rotation_mode("anchor")
