"""The per-run result fields, declared once.

Each :class:`RunField` says what one per-run result is: its name, dtype, shape (one
value per run, or one per mission or per state and run), what it means, how it
appears in the runs table and whether summaries and sweeps aggregate it. From
:data:`RUN_FIELDS` derive:

* :class:`sim.engine.model.BlockResult` and :class:`sim.analysis.runner.Ensemble` (an attribute per
  field, :func:`dataclass_fields`), and the joining of blocks (:func:`concatenate`);
* the runs table (``runs.parquet``, ``Result.runs``; :func:`table_columns`) and its
  reading back (:func:`from_table`);
* the labels of a field's rows, per mission or state (:func:`labels`), for the summary, and a
  sweep point's columns (:func:`sweep_columns`);
* the memory estimate (:func:`bytes_per_run`, :func:`table_bytes_per_run`).

Adding a per-run field is one declaration here, the line in the engine
(:meth:`sim.engine.model.EscalationModel.result`) that fills it, and its test.

Runs-table columns by ``column``:

* ``"value"``: one column named as the field;
* ``"step"``: a step (-1: none) as a nullable ``Int64`` column named as the field,
  then ``<stem>_date`` (the step's last day; ``outcome_step`` -> ``outcome_date``)
  and, with ``weeks``, ``weeks_to_<stem>`` (weeks from the forecast start, NaN if none);
* ``"outcome"``: a categorical of the result's ``outcome_names``;
* ``"mission"``: a mission index (-1: none) as a categorical of mission ids;

and a field per mission or per state has one column per mission or state,
``<name>.<id>`` (``final_staff.us_in_russia``, ``staff_lost.us``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "RUN_FIELDS",
    "RunField",
    "bytes_per_run",
    "concatenate",
    "dataclass_fields",
    "from_table",
    "labels",
    "run_field",
    "sweep_columns",
    "table_bytes_per_run",
    "table_columns",
    "weeks_from_forecast",
]

PER = ("run", "mission", "state")
COLUMNS = ("value", "step", "outcome", "mission")
SWEEP = (None, "mean", "share")


@dataclass(frozen=True)
class RunField:
    """One per-run result field."""

    name: str
    dtype: str  # numpy dtype of the engine's array and of its runs-table column(s)
    per: str  # "run": (runs,); "mission": (missions, runs); "state": (states, runs)
    description: str
    column: str = "value"  # how a per-run field appears in the runs table (module doc)
    weeks: bool = False  # a "step" field: also a weeks_to_<stem> column
    #: The value for runs tables written before the field existed (None: required).
    missing: int | None = None
    summary: bool = False  # the summary gives its quantiles per mission or state
    #: A sweep point's column: "mean" -> <name>_mean.<id> per mission or state,
    #: "share" -> <name>, the share of runs where it holds; None: not in sweeps.
    sweep: str | None = None

    def __post_init__(self) -> None:
        if self.per not in PER or self.column not in COLUMNS or self.sweep not in SWEEP:
            raise ValueError(f"run field {self.name!r}: bad per, column or sweep")
        np.dtype(self.dtype)  # a numpy dtype, or TypeError

    @property
    def stem(self) -> str:
        """``outcome_step`` -> ``outcome``: the stem of a step's date and weeks columns."""
        return self.name.removesuffix("_step")

    def count(self, n_missions: int, n_states: int) -> int:
        """Values per run."""
        return {"run": 1, "mission": n_missions, "state": n_states}[self.per]


RUN_FIELDS: tuple[RunField, ...] = (
    RunField(
        "outcome",
        "int8",
        "run",
        "the outcome class at the horizon: a code into the result's outcome_names",
        column="outcome",
    ),
    RunField(
        "outcome_step",
        "int32",
        "run",
        "the step at which the outcome was reached (-1: unresolved)",
        column="step",
        weeks=True,
    ),
    RunField(
        "calm_step",
        "int32",
        "run",
        "the step at which the run first calmed (-1: never), whatever its class: a "
        "relapse calmed here, then flared again",
        column="step",
        missing=-1,
    ),
    RunField(
        "offer_accepted",
        "bool",
        "run",
        "a conditional offer was accepted",
        sweep="share",
    ),
    RunField(
        "closed_mission",
        "int16",
        "run",
        "the watched mission whose closure made the spiral (-1: none)",
        column="mission",
    ),
    RunField(
        "final_staff",
        "int32",
        "mission",
        "each mission's total staff at the horizon",
        summary=True,
    ),
    RunField(
        "staff_lost",
        "int64",
        "state",
        "staff removed from each state's missions since the forecast start (restored "
        "staff not netted out)",
        summary=True,
        sweep="mean",
    ),
    RunField(
        "hostile_acts",
        "int32",
        "state",
        "hostile measures each state announced in the forecast",
        summary=True,
    ),
    RunField(
        "conciliatory_acts",
        "int32",
        "state",
        "conciliatory moves each state made in the forecast",
        summary=True,
    ),
)

_BY_NAME = {f.name: f for f in RUN_FIELDS}


def run_field(name: str) -> RunField:
    return _BY_NAME[name]


def dataclass_fields() -> list[tuple[str, Any, Any]]:
    """The fields as ``dataclasses.make_dataclass`` takes them (one array attribute each)."""
    return [(f.name, np.ndarray, dataclasses.field(metadata={"run_field": f})) for f in RUN_FIELDS]


def concatenate(blocks: Sequence[Any]) -> dict[str, np.ndarray]:
    """Each field of ``blocks`` (BlockResults, in run order) joined along the run axis."""
    out = {}
    for f in RUN_FIELDS:
        parts = [getattr(b, f.name) for b in blocks]
        out[f.name] = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)
    return out


def labels(f: RunField, scenario: Any) -> list[str]:
    return list(scenario.missions) if f.per == "mission" else list(scenario.states)


def weeks_from_forecast(steps: np.ndarray, scenario: Any) -> np.ndarray:
    """(runs,) weeks from the forecast start to the end of each step (NaN for -1)."""
    weeks = (steps - scenario.forecast_step + 1) * scenario.step_days / 7.0
    return np.where(steps >= 0, weeks, np.nan)


def _dates(steps: np.ndarray, scenario: Any) -> pd.Series:
    dates = [scenario.date_of(s) if s >= 0 else None for s in steps]
    return pd.to_datetime(pd.Series(dates, dtype="object"))


def table_columns(
    values: Mapping[str, np.ndarray], scenario: Any, outcome_names: Sequence[str]
) -> dict[str, Any]:
    """The runs table's columns of every field, in order, from the per-run arrays."""
    missions = list(scenario.missions)
    columns: dict[str, Any] = {}
    for f in RUN_FIELDS:
        v = values[f.name]
        if f.per != "run":
            for i, label in enumerate(labels(f, scenario)):
                columns[f"{f.name}.{label}"] = v[i]
        elif f.column == "outcome":
            columns[f.name] = pd.Categorical.from_codes(v, categories=list(outcome_names))
        elif f.column == "step":
            step = pd.Series(v)
            columns[f.name] = step.where(step >= 0).astype("Int64")
            columns[f"{f.stem}_date"] = _dates(v, scenario)
            if f.weeks:
                columns[f"weeks_to_{f.stem}"] = weeks_from_forecast(v, scenario)
        elif f.column == "mission":
            columns[f.name] = pd.Categorical(
                [missions[m] if m >= 0 else None for m in v], categories=missions
            )
        else:
            columns[f.name] = v
    return columns


def from_table(
    table: pd.DataFrame, scenario: Any, outcome_names: Sequence[str], source: str = "runs table"
) -> dict[str, np.ndarray]:
    """The per-run arrays of a runs table (:func:`table_columns` read back).

    ValueError if an outcome in the table is not one of ``outcome_names``.
    """
    missions = list(scenario.missions)
    out: dict[str, np.ndarray] = {}
    for f in RUN_FIELDS:
        if f.per != "run":
            names = [f"{f.name}.{label}" for label in labels(f, scenario)]
            out[f.name] = np.stack([table[c].to_numpy() for c in names]).astype(f.dtype)
            continue
        if f.name not in table:
            if f.missing is None:
                raise KeyError(f"{source}: no column {f.name!r}")
            out[f.name] = np.full(len(table), f.missing, dtype=f.dtype)
            continue
        col = table[f.name]
        if f.column == "outcome":
            codes = {name: i for i, name in enumerate(outcome_names)}
            unknown = sorted(set(col.astype("object").dropna()) - set(codes))
            if unknown:
                raise ValueError(
                    f"{source}: outcome {unknown[0]!r} is not one of this scenario's "
                    f"outcomes ({', '.join(outcome_names)}); the results were written by "
                    "another version, or with an outcome plugin not loaded (--plugin)"
                )
            out[f.name] = col.astype("object").map(codes).to_numpy(f.dtype)
        elif f.column == "step":
            out[f.name] = col.fillna(-1).to_numpy(f.dtype)
        elif f.column == "mission":
            out[f.name] = np.array(
                [missions.index(m) if isinstance(m, str) else -1 for m in col.astype("object")],
                dtype=f.dtype,
            )
        else:
            out[f.name] = col.to_numpy(f.dtype)
    return out


def sweep_columns(values: Mapping[str, np.ndarray], scenario: Any) -> dict[str, float]:
    """A sweep point's columns of the fields with ``sweep``."""
    out: dict[str, float] = {}
    for f in RUN_FIELDS:
        v = values[f.name]
        if f.sweep == "share":
            out[f.name] = int(np.count_nonzero(v)) / len(v)
        elif f.sweep == "mean":
            for i, label in enumerate(labels(f, scenario)):
                out[f"{f.name}_mean.{label}"] = float(np.mean(v[i]))
    return out


def bytes_per_run(n_missions: int, n_states: int) -> int:
    """Bytes of a run's fields in memory (the run index not included)."""
    return sum(np.dtype(f.dtype).itemsize * f.count(n_missions, n_states) for f in RUN_FIELDS)


#: Runs-table bytes per run of a step column: Int64 values and mask, the date column,
#: and the date object made per run while it is built; and of a weeks column.
_STEP_TABLE_BYTES = 8 + 1 + 8 + 48
_WEEKS_TABLE_BYTES = 8


def table_bytes_per_run(n_missions: int, n_states: int) -> int:
    """Bytes of a run's runs-table columns (the run index not included)."""
    total = 0
    for f in RUN_FIELDS:
        if f.per == "run" and f.column == "step":
            total += _STEP_TABLE_BYTES + (_WEEKS_TABLE_BYTES if f.weeks else 0)
        else:  # the values, or a categorical's codes
            total += np.dtype(f.dtype).itemsize * f.count(n_missions, n_states)
    return total
