"""Cross-check of this project's PRIM against the EMA Workbench's, on the same data.

The EMA Workbench is not a dependency (docs/discovery.md says why), so the check runs
in two steps, and its result is stored:

1. ``python benchmarks/crosscheck_prim.py --ema OUT.json`` under a Python that has
   ``ema_workbench`` installed (checked with 2.5.3, the release Python 3.11 gets; the
   script needs only numpy and pandas besides): it runs the workbench's PRIM on the
   data sets below and writes each peeling and pasting trajectory.
2. ``python benchmarks/crosscheck_prim.py --compare OUT.json`` here: it runs
   :func:`sim.analysis.discover.prim` on the same data, compares the trajectories step
   by step, and with ``--write`` stores the workbench's trajectories in
   ``benchmarks/results/prim_crosscheck.json``. ``tests/test_discover.py`` checks on
   every run that this PRIM still reproduces them.

The data sets are drawn from numpy's PCG64 generator with fixed seeds, which gives the
same numbers on every platform and numpy version that has it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

STORED = Path(__file__).resolve().parent / "results" / "prim_crosscheck.json"


def datasets() -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    """Synthetic data sets: a two-parameter box with noise, and a weaker, rounder signal."""
    out = {}
    rng = np.random.default_rng(2026)
    n = 3000
    x = pd.DataFrame(rng.uniform(0, 1, (n, 5)), columns=[f"p{i}" for i in range(5)])
    inside = (x.p0 >= 0.2) & (x.p0 <= 0.6) & (x.p1 >= 0.5) & (x.p1 <= 0.9)
    y = np.where(inside, 1, rng.uniform(size=n) < 0.05).astype(int)
    out["box_with_noise"] = (x, y)
    rng = np.random.default_rng(7)
    x = pd.DataFrame(rng.uniform(0, 1, (n, 3)), columns=["a", "b", "c"])
    p = 0.15 + 0.5 * x.a * x.b
    y = (rng.uniform(size=n) < p).astype(int)
    out["weak_signal"] = (x, y.to_numpy())
    rng = np.random.default_rng(11)
    x = pd.DataFrame(rng.uniform(0, 1, (n, 2)), columns=["a", "b"])
    x["kind"] = pd.Series(
        rng.choice(["tit_for_tat", "generous", "grim", "parity"], size=n), dtype=object
    )
    p = 0.1 + 0.5 * (x.kind == "grim") + 0.3 * (x.a > 0.5)
    y = (rng.uniform(size=n) < p).astype(int)
    out["with_a_category"] = (x, y.to_numpy())
    return out


def ema_trajectories() -> dict:
    from ema_workbench.analysis import prim

    found = {}
    for name, (x, y) in datasets().items():
        alg = prim.Prim(x, y, threshold=0.5, peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05)
        box = alg.find_box()
        table = box.peeling_trajectory
        limits = box.box_lims[-1]
        categories = {
            c: sorted(limits[c][0])
            for c in limits.columns
            if not pd.api.types.is_numeric_dtype(x[c])
        }
        found[name] = {
            "coverage": table["coverage"].tolist(),
            "density": table["density"].tolist(),
            "mass": table["mass"].tolist(),
            "restricted": table["res_dim"].astype(int).tolist(),
            "last_box": {
                c: [float(limits[c][0]), float(limits[c][1])]
                for c in limits.columns
                if c not in categories
            },
            "last_categories": categories,
        }
    return found


def ours() -> dict:
    from sim.analysis.discover import DiscoveryData, _Space, prim

    found = {}
    for name, (x, y) in datasets().items():
        data = DiscoveryData(x, y.astype(np.int64), np.ones(len(y), dtype=np.int64), "y", "runs")
        trajectory = prim(data)
        space = _Space(data)
        space.categories_by_name = {
            space.names[j]: (j, cats) for j, cats in space.categories.items()
        }
        table = trajectory.table()
        last = trajectory.limits[-1]
        found[name] = {
            "coverage": table["coverage"].tolist(),
            "density": table["density"].tolist(),
            "mass": table["mass"].tolist(),
            "restricted": table["restricted"].astype(int).tolist(),
            "last_box": {
                c: [float(last.lower[j]), float(last.upper[j])]
                for j, c in enumerate(x.columns)
                if c not in space.categories_by_name
            },
            "last_categories": {
                c: sorted(cats[last.allowed[j]].tolist())
                for c, (j, cats) in space.categories_by_name.items()
            },
        }
    return found


def differences(reference: dict, mine: dict) -> list[str]:
    problems = []
    for name, ref in reference.items():
        got = mine[name]
        if len(ref["coverage"]) != len(got["coverage"]):
            problems.append(
                f"{name}: {len(ref['coverage'])} boxes in the workbench, "
                f"{len(got['coverage'])} here"
            )
            continue
        for key in ("coverage", "density", "mass"):
            if not np.allclose(ref[key], got[key], rtol=0, atol=1e-12):
                problems.append(f"{name}: {key} differs")
        if ref["restricted"] != got["restricted"]:
            problems.append(f"{name}: restricted dimensions differ")
        for column, limits in ref["last_box"].items():
            if not np.allclose(limits, got["last_box"][column], rtol=0, atol=1e-12):
                problems.append(f"{name}: last box differs on {column}")
        if ref.get("last_categories", {}) != got.get("last_categories", {}):
            problems.append(f"{name}: last box's categories differ")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ema", metavar="OUT", help="run the workbench's PRIM, write OUT")
    parser.add_argument("--compare", metavar="IN", help="compare with the workbench's file")
    parser.add_argument("--write", action="store_true", help="store the workbench's file")
    args = parser.parse_args()
    if args.ema:
        Path(args.ema).write_text(json.dumps(ema_trajectories(), indent=1))
        return 0
    reference = json.loads(Path(args.compare).read_text()) if args.compare else None
    if reference is None:
        reference = json.loads(STORED.read_text())["trajectories"]
    problems = differences(reference, ours())
    for name, ref in reference.items():
        print(
            f"{name}: {len(ref['coverage'])} boxes, last: coverage {ref['coverage'][-1]:.3f} "
            f"density {ref['density'][-1]:.3f}"
        )
    print("\n".join(problems) if problems else "identical trajectories")
    if args.write and not problems:
        STORED.write_text(
            json.dumps({"ema_workbench": "2.5.3", "trajectories": reference}, indent=1) + "\n"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
