"""Goldens: behaviour that must not move when the code is reorganised.

For every shipped scenario (and two what-ifs that exercise offers, cancellations and
added measures), at a fixed seed, the hashes of each run's outcome class and step, its
calm step, every mission's staff after every step, and the whole event record. A
refactor keeps them identical; a change of behaviour (another issue) updates them in
a commit of its own that says why:

    python tests/test_golden.py --update

The hashes cover only integers and text, and floats written with 12 significant
digits, so they are the same on every platform and Python version we support.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_FILE = Path(__file__).resolve().parent / "goldens" / "engine.json"
RUNS = 300
SEED = 20211201

#: name -> (scenario file, keyword arguments of sim.run)
CASES: dict[str, tuple[str, dict]] = {
    path.stem: (f"scenarios/{path.name}", {})
    for path in sorted((ROOT / "scenarios").glob("*.toml"))
}
# Version-1 scenario files (as shipped before the behaviour mechanisms of issue 13, using
# none of their fields): they must keep validating and giving the same results, while
# the shipped scenarios opt into the mechanisms.
CASES.update(
    {
        f"v1/{path.stem}": (f"tests/fixtures/v1/{path.name}", {})
        for path in sorted((ROOT / "tests" / "fixtures" / "v1").glob("*.toml"))
    }
)
CASES["v1/us_russia_2021+take_offer"] = (
    "tests/fixtures/v1/us_russia_2021.toml",
    {"take_offer": "us"},
)
CASES["us_russia_2021+take_offer"] = ("scenarios/us_russia_2021.toml", {"take_offer": "us"})
CASES["us_russia_2021+visa_and_consulate"] = (
    "scenarios/us_russia_2021.toml",
    {
        "events": [
            {"date": "2022-03-07", "actor": "us", "target": "russia", "kind": "close_consulate",
             "size": 1, "source": "what-if"},
            {"date": "2022-05-02", "actor": "russia", "target": "us", "kind": "visa_denial",
             "rate": 0.5, "source": "what-if"},
        ]
    },
)  # fmt: skip
CASES["teaching_tit_for_tat+suspend_and_lift"] = (
    "scenarios/teaching_tit_for_tat.toml",
    {
        "events": [
            {"date": "2025-03-03", "actor": "beta", "target": "alpha", "kind": "visa_denial",
             "rate": 1, "source": "what-if"},
            {"date": "2025-05-05", "actor": "beta", "target": "alpha", "kind": "lift",
             "lifts": "visa_denial", "source": "what-if"},
            {"date": "2025-09-01", "actor": "alpha", "target": "beta", "kind": "suspend",
             "source": "what-if"},
        ]
    },
)  # fmt: skip


def _digest(frame: pd.DataFrame | np.ndarray) -> str:
    if isinstance(frame, np.ndarray):
        frame = pd.DataFrame(frame)
    text = frame.to_csv(index=False, float_format="%.12g")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(name: str) -> dict[str, str]:
    """The hashes of one case's results."""
    path, kwargs = CASES[name]
    result = sim.run(ROOT / path, runs=RUNS, seed=SEED, **kwargs)
    runs = result.runs
    staff = [c for c in runs.columns if c.startswith("final_staff.")]
    return {
        "outcomes": _digest(runs[["run", "outcome", "outcome_step", "calm_step"]]),
        "final_staff": _digest(runs[["run", *staff]]),
        "trajectories": _digest(result.trajectories),
        "events": _digest(result.events),
    }


def _goldens() -> dict:
    return json.loads(GOLDEN_FILE.read_text()) if GOLDEN_FILE.exists() else {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_behaviour_is_unchanged(name):
    golden = _goldens()
    assert name in golden, f"no golden for {name}: run python tests/test_golden.py --update"
    got = fingerprint(name)
    changed = [part for part in got if got[part] != golden[name].get(part)]
    assert not changed, f"{name}: {', '.join(changed)} changed"


def test_every_shipped_scenario_has_a_golden():
    assert set(CASES) == set(_goldens()), "run python tests/test_golden.py --update"


def test_the_digest_sees_a_one_staff_change():
    # The golden can fail: a single changed value changes the digest.
    frame = pd.DataFrame({"run": [0, 1], "staff": [120, 121]})
    moved = frame.assign(staff=[120, 122])
    assert _digest(frame) != _digest(moved)


if __name__ == "__main__" and "--update" in sys.argv:
    GOLDEN_FILE.write_text(json.dumps({n: fingerprint(n) for n in sorted(CASES)}, indent=1) + "\n")
    print(f"wrote {GOLDEN_FILE}")
