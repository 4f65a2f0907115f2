"""Events kept in a CSV file (``scenario.events_file``, docs/scenario-format.md §6.1).

:func:`read_events_file` puts the file's rows into the document as ``[[events]]``
tables, before the document's own; the returned :class:`EventsFile` remembers which
spreadsheet row each event came from, so that validation problems in them name the
file, row and column instead of ``events.N``.

A scenario names the file, so the file is read with care (docs/scenario-format.md
§6.1): it must lie, symlinks followed, inside the scenario file's folder (unless
:data:`ALLOW_FILES_OUTSIDE` or ``allow_files_outside=True`` says otherwise); it must be
a regular file (never a FIFO, a device, a directory or a socket, which could block or
never end); and it may be at most :func:`max_events_file_bytes` long, checked before
it is read. No message quotes more of the file than a short excerpt of one cell.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.distributions import describe_value
from sim.scenario.limits import MAX_EVENTS
from sim.spec import Problem, ScenarioError

__all__ = [
    "ALLOW_FILES_OUTSIDE",
    "DEFAULT_MAX_EVENTS_FILE_BYTES",
    "EVENT_CSV_COLUMNS",
    "EVENT_CSV_OPTIONAL",
    "ISO_DATE",
    "MAX_EVENTS_FILE_ENV",
    "EventsFile",
    "excerpt",
    "max_events_file_bytes",
    "read_events_file",
]

#: Whether an ``events_file`` may lie outside the scenario file's folder, for callers
#: that do not say (``allow_files_outside=None``). The command line's
#: ``--allow-files-outside`` sets it for its one command (and puts it back after).
#: A plain module-level switch rather than a keyword threaded through every caller:
#: scenarios are loaded from many places (sweeps, robust, calibrate, backtest, the
#: explorer's server threads), and a command-line process sets it once before any of
#: them start and never changes it while they run, so reading it from any thread is
#: safe. From Python, prefer the keyword: ``load_scenario(path, allow_files_outside=True)``.
ALLOW_FILES_OUTSIDE = False
#: The largest events file read, in bytes, unless the environment variable
#: :data:`MAX_EVENTS_FILE_ENV` says otherwise: 10 MB, far above the shipped files
#: (the largest, scenarios/events/us_russia_2016_2023.csv, is about 6 kB for 31 rows)
#: and room for tens of thousands of rows.
DEFAULT_MAX_EVENTS_FILE_BYTES = 10_000_000
MAX_EVENTS_FILE_ENV = "SIM_MAX_EVENTS_FILE_BYTES"
#: Characters of file content a message may show (an excerpt of one cell).
EXCERPT_CHARS = 40
#: Header cells reported one by one; the rest are counted.
_HEADER_PROBLEMS = 5

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
    ``problems`` are the cells that could not be read; ``long_cells[i]`` the text
    values of event ``i`` too long or odd to quote whole, which :meth:`locate`
    shortens to an :func:`excerpt` in the validation's messages.
    """

    name: str
    rows: dict[int, int]
    problems: list[Problem]
    long_cells: dict[int, list[str]] = field(default_factory=dict)

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
                message = self._shorten(int(parts[1]), message)
                p = Problem(path, message.replace("[sender, host]", "sender:host"))
            if p.path not in seen:
                seen.add(p.path)
                out.append(p)
        return out

    def _shorten(self, event: int, message: str) -> str:
        """``message`` (the validation's, about event ``event``) with each long cell of
        that row it quotes cut to an excerpt, and nothing unprintable left in it."""
        for cell in self.long_cells.get(event, ()):
            short = excerpt(cell)
            for needle in (repr(cell), repr(cell[:37] + "..."), cell):
                message = message.replace(needle, short)
        return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` quoted for a message: at most ``limit`` characters of it, with quotes,
    backslashes and non-printable characters escaped as ``repr`` does (an escape counts
    its full length), and ``...`` if it was cut."""
    out: list[str] = []
    size = 0
    for ch in text:
        if ch == "'":
            piece = "\\'"
        elif ch == "\\" or not ch.isprintable():
            piece = repr(ch)[1:-1]
        else:
            piece = ch
        if size + len(piece) > limit:
            return "'" + "".join(out) + "...'"
        out.append(piece)
        size += len(piece)
    return "'" + "".join(out) + "'"


def read_events_file(
    raw: dict[str, Any], source: str, *, allow_files_outside: bool | None = None
) -> tuple[dict[str, Any], EventsFile | None]:
    """Put the rows of ``scenario.events_file`` into a copy of ``raw`` as ``[[events]]``.

    The CSV's events come first, then the document's own ``[[events]]`` (together in
    date order); ``events_file`` is dropped, so the result stands alone. A file that
    cannot be read, or a header that is wrong, raises :class:`ScenarioError` at once;
    cells that cannot be read are in the returned :class:`EventsFile`'s ``problems``.
    Without ``events_file``, ``raw`` comes back unchanged with ``None``.

    The path is relative to the folder of ``source`` (the current directory for a
    ``source`` such as ``"<scenario>"``, a document with no file) and must stay inside
    it, symlinks followed, unless ``allow_files_outside`` (default:
    :data:`ALLOW_FILES_OUTSIDE`). Only a regular file of at most
    :func:`max_events_file_bytes` bytes is read.
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
    allow = ALLOW_FILES_OUTSIDE if allow_files_outside is None else allow_files_outside
    path = base / value
    data = _read_bytes(path, str(path), value, base, source, allow)
    events, info = _read_events_csv(data, str(path), source)
    out = dict(raw)
    out["scenario"] = {k: v for k, v in meta.items() if k != "events_file"}
    own = raw.get("events", [])
    out["events"] = [*events, *own] if isinstance(own, list) else own
    return out, info


def max_events_file_bytes(source: str = "<scenario>") -> int:
    """The largest events file read, in bytes: ``$SIM_MAX_EVENTS_FILE_BYTES`` if set,
    else :data:`DEFAULT_MAX_EVENTS_FILE_BYTES`."""
    text = os.environ.get(MAX_EVENTS_FILE_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_EVENTS_FILE_BYTES
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ScenarioError(
            source,
            [
                Problem(
                    "scenario.events_file",
                    f"the environment variable {MAX_EVENTS_FILE_ENV} must be a whole number "
                    f"of bytes, 1 or more, found {excerpt(text)}",
                )
            ],
        )
    return limit


def _kind_of(mode: int) -> str | None:
    """What a file that is not a regular file is, for a message (None: a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _read_bytes(
    path: Path, name: str, value: str, base: Path, source: str, allow_outside: bool
) -> bytes:
    """The bytes of the events file ``path`` (named ``name`` in messages), after checking
    where it is (inside ``base``, symlinks followed, unless ``allow_outside``), what it
    is (a regular file) and how long (the limit), all before it is opened."""

    def fail(message: str, where: str = name) -> ScenarioError:
        return ScenarioError(source, [Problem(where, message)])

    def outside() -> ScenarioError:
        folder = "the scenario's folder" if not source.startswith("<") else "the current directory"
        return fail(
            f"{excerpt(value)} is outside {folder} ({root}): an events file must be in the "
            "folder of the scenario file or below it, symlinks followed. To read it anyway, "
            "pass --allow-files-outside (in Python: "
            "load_scenario(..., allow_files_outside=True))",
            "scenario.events_file",
        )

    limit = max_events_file_bytes(source)
    try:
        root = base.resolve()
        # Where the path leads as far as it exists: a path outside is refused as such
        # whether or not it exists (no probing for files elsewhere).
        if not allow_outside and not path.resolve().is_relative_to(root):
            raise outside()
        real = path.resolve(strict=True)
        if not allow_outside and not real.is_relative_to(root):
            raise outside()
        info = os.stat(real)  # before opening: a FIFO would block open() and read()
    except FileNotFoundError:
        raise fail("no such file (named by scenario.events_file)") from None
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a bad name, ...
        reason = getattr(exc, "strerror", None) or str(exc)
        raise fail(f"cannot be read (scenario.events_file): {reason}") from None
    kind = _kind_of(info.st_mode)
    if kind is not None:
        raise fail(f"is {kind}, expected a regular CSV file (scenario.events_file)")

    def too_big(what: str) -> ScenarioError:
        return fail(
            f"{what} the limit of {limit:,} bytes for an events file; raise it with the "
            f"environment variable {MAX_EVENTS_FILE_ENV} "
            f"(e.g. {MAX_EVENTS_FILE_ENV}={max(2 * limit, info.st_size)})"
        )

    if info.st_size > limit:
        raise too_big(f"is {info.st_size:,} bytes, more than")
    # Should something else take the file's place after the stat: O_NONBLOCK, so that
    # open() does not wait for a FIFO's writer; O_NOFOLLOW, so that it follows no symlink.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(real, flags)
        with os.fdopen(fd, "rb") as file:
            # The file may have been replaced or grown since the stat: check again, and
            # never read more than one byte past the limit.
            if _kind_of(os.fstat(file.fileno()).st_mode) is not None:
                raise fail("changed while being read, expected a regular CSV file")
            data = file.read(limit + 1)
    except ScenarioError:
        raise
    except FileNotFoundError:
        raise fail("no such file (named by scenario.events_file)") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise fail(f"cannot be read (scenario.events_file): {reason}") from None
    if len(data) > limit:
        raise too_big("grew while being read (or said it was shorter) past")
    return data


def _read_events_csv(data: bytes, name: str, source: str) -> tuple[list[dict], EventsFile]:
    def fail(where: str, message: str) -> ScenarioError:
        return ScenarioError(source, [Problem(where, message)])

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
        texts = [v for value in event.values() for v in _texts(value)]
        long = [v for v in texts if len(v) > 37 or not v.isprintable() or "\\" in v]
        if long:
            info.long_cells[len(events)] = long
        info.rows[len(events)] = row_no
        events.append(event)
    if header is None:
        raise fail(
            name,
            "is empty: expected a header row naming the columns "
            f"{', '.join(EVENT_CSV_COLUMNS)}, then one row per event",
        )
    return events, info


def _texts(value: Any) -> list[str]:
    """The text in an event value read from a cell (a mission's two parts)."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


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
                    where,
                    f"unknown column {excerpt(cells[i].strip())}{extra}; known: {', '.join(known)}",
                )
            )
        elif column in header[:i]:
            problems.append(Problem(where, f"column {column!r} named twice"))
    if len(problems) > _HEADER_PROBLEMS:
        # A first row that is no header (some other file's first line) is not quoted
        # cell by cell: the first few, then a count.
        more = len(problems) - _HEADER_PROBLEMS
        problems = problems[:_HEADER_PROBLEMS]
        problems.append(Problem(info.where(row), f"and {more} more such cell(s), not shown"))
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
        info.problems.append(Problem(where, f"expected {expected}, found {excerpt(cell)}"))
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
