"""Events kept in a CSV file (``scenario.events_file``, docs/scenario-format.md §6.1).

:func:`read_events_file` puts the file's rows into the document as ``[[events]]``
tables, before the document's own; the returned :class:`EventsFile` remembers which
spreadsheet row each event came from, so that validation problems in them name the
file, row and column instead of ``events.N``.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.distributions import describe_value
from sim.scenario.limits import MAX_EVENTS
from sim.spec import Problem, ScenarioError

__all__ = [
    "EVENT_CSV_COLUMNS",
    "EVENT_CSV_OPTIONAL",
    "ISO_DATE",
    "EventsFile",
    "read_events_file",
]

#: The header of an events CSV: every one of these columns must be named ...
EVENT_CSV_COLUMNS = ("date", "actor", "target", "action", "size", "deadline", "source", "note")
#: ... and these may be.
EVENT_CSV_OPTIONAL = ("level", "rate", "lifts", "mission", "until", "then", "then_notice")
_CSV_KEY = {"action": "kind"}  # column -> event key (the others are the same)
_COLUMN = {"kind": "action"}  # event key -> column
#: A date written as text, in a cell or a ``--event`` value (then read by ISO rules).
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CSV_INT = re.compile(r"[+-]?[0-9]{1,15}(\.0*)?")


@dataclass
class EventsFile:
    """Where the first events of a scenario came from: a CSV file's rows.

    ``rows[i]`` is the spreadsheet row (the header is row 1) of event ``i``;
    ``problems`` are the cells that could not be read.
    """

    name: str
    rows: dict[int, int]
    problems: list[Problem]

    def where(self, row: int, column: str | None = None) -> str:
        return f"{self.name}: row {row}" + (f", column {column}" if column else "")

    def locate(self, problems: list[Problem]) -> list[Problem]:
        """The cell problems, then ``problems`` with ``events.N...`` paths of CSV rows
        rewritten as ``FILE: row R, column C`` (a cell reported twice is kept once)."""
        out = list(self.problems)
        seen = {p.path for p in out}
        for p in problems:
            parts = p.path.split(".")
            if (
                len(parts) >= 2
                and parts[0] == "events"
                and parts[1].isdigit()
                and int(parts[1]) in self.rows
            ):
                column = _COLUMN.get(parts[2], parts[2]) if len(parts) > 2 else None
                path = self.where(self.rows[int(parts[1])], column)
                message = p.message.replace(" (unquoted)", "").replace(
                    "mission = [sender, host]", "a mission such as us:russia"
                )
                p = Problem(path, message.replace("[sender, host]", "sender:host"))
            if p.path not in seen:
                seen.add(p.path)
                out.append(p)
        return out


def read_events_file(raw: dict[str, Any], source: str) -> tuple[dict[str, Any], EventsFile | None]:
    """Put the rows of ``scenario.events_file`` into a copy of ``raw`` as ``[[events]]``.

    The CSV's events come first, then the document's own ``[[events]]`` (together in
    date order); ``events_file`` is dropped, so the result stands alone. A file that
    cannot be read, or a header that is wrong, raises :class:`ScenarioError` at once;
    cells that cannot be read are in the returned :class:`EventsFile`'s ``problems``.
    Without ``events_file``, ``raw`` comes back unchanged with ``None``.
    """
    meta = raw.get("scenario") if isinstance(raw, dict) else None
    if not isinstance(meta, dict) or "events_file" not in meta:
        return raw, None
    value = meta["events_file"]
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise ScenarioError(
            source,
            [
                Problem(
                    "scenario.events_file",
                    f"expected the path of a CSV file (a string), found {describe_value(value)}",
                )
            ],
        )
    base = Path(source).parent if not source.startswith("<") else Path()
    path = base / value
    events, info = _read_events_csv(path, str(path), source)
    out = dict(raw)
    out["scenario"] = {k: v for k, v in meta.items() if k != "events_file"}
    own = raw.get("events", [])
    out["events"] = [*events, *own] if isinstance(own, list) else own
    return out, info


def _read_events_csv(path: Path, name: str, source: str) -> tuple[list[dict], EventsFile]:
    def fail(where: str, message: str) -> ScenarioError:
        return ScenarioError(source, [Problem(where, message)])

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise fail(name, "no such file (named by scenario.events_file)") from None
    except IsADirectoryError:
        raise fail(name, "is a directory, expected a CSV file (scenario.events_file)") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise fail(name, f"cannot be read (scenario.events_file): {reason}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail(name, f"is not UTF-8 text (line {line}); save it as CSV in UTF-8") from None
    info = EventsFile(name, {}, [])
    events: list[dict[str, Any]] = []
    header: list[str] | None = None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    row_no = 0
    while True:
        row_no += 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise fail(info.where(row_no), f"is not valid CSV: {exc}") from None
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue  # blank row, or a comment row (first cell starting with #)
        if header is None:
            header = _csv_header(cells, row_no, info, source)
            continue
        if len(events) >= MAX_EVENTS:
            raise fail(name, f"expected at most {MAX_EVENTS:,} events (rows)")
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            info.problems.append(
                Problem(
                    info.where(row_no),
                    f"expected at most {len(header)} cells (the header's columns), "
                    f"found {len(cells)}",
                )
            )
        event: dict[str, Any] = {}
        for column, cell in zip(header, cells, strict=False):
            cell = cell.strip()
            if cell:
                event[_CSV_KEY.get(column, column)] = _csv_value(
                    column, cell, info, info.where(row_no, column)
                )
        info.rows[len(events)] = row_no
        events.append(event)
    if header is None:
        raise fail(
            name,
            "is empty: expected a header row naming the columns "
            f"{', '.join(EVENT_CSV_COLUMNS)}, then one row per event",
        )
    return events, info


def _csv_header(cells: list[str], row: int, info: EventsFile, source: str) -> list[str]:
    known = (*EVENT_CSV_COLUMNS, *EVENT_CSV_OPTIONAL)
    header = [cell.strip().lower() for cell in cells]
    problems = []
    for i, column in enumerate(header):
        where = info.where(row, f"{i + 1}")
        if not column:
            problems.append(Problem(where, "expected a column name, found an empty cell"))
        elif column not in known:
            hint = difflib.get_close_matches(column, known, n=1, cutoff=0.6)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(
                Problem(
                    where, f"unknown column {cells[i].strip()!r}{extra}; known: {', '.join(known)}"
                )
            )
        elif column in header[:i]:
            problems.append(Problem(where, f"column {column!r} named twice"))
    missing = [c for c in EVENT_CSV_COLUMNS if c not in header]
    if missing:
        problems.append(
            Problem(
                info.where(row),
                f"the header lacks the column(s) {', '.join(missing)}; expected "
                f"{', '.join(EVENT_CSV_COLUMNS)} (cells may be empty), optionally "
                f"{', '.join(EVENT_CSV_OPTIONAL)}",
            )
        )
    if problems:
        raise ScenarioError(source, problems)
    return header


def _csv_value(column: str, cell: str, info: EventsFile, where: str) -> Any:
    """A cell as the event value it stands for; a cell that cannot be read is reported
    and kept as text (so the event checks see it, and say nothing twice)."""

    def bad(expected: str) -> str:
        shown = cell if len(cell) <= 40 else cell[:37] + "..."
        info.problems.append(Problem(where, f"expected {expected}, found {shown!r}"))
        return cell

    if column in ("date", "deadline", "until"):
        if ISO_DATE.fullmatch(cell):
            try:
                return dt.date.fromisoformat(cell)
            except ValueError:
                pass
        return bad("a date YYYY-MM-DD such as 2021-12-01")
    if column in ("size", "level", "then_notice"):
        if _CSV_INT.fullmatch(cell):
            return int(cell.split(".")[0])
        return bad("a whole number")
    if column == "rate":
        try:
            return float(cell)
        except ValueError:
            return bad("a number")
    if column == "mission":
        parts = [part.strip() for part in cell.split(":")]
        if len(parts) == 2 and all(parts):
            return parts
        return bad("a mission as sender:host, such as us:russia")
    return cell
