"""Calibration across counterparts: its time on every compiled dyad, and the coverage
of the pooled sampler's intervals for the mechanisms' parameters.

    python benchmarks/bench_pooling.py [--coverage N] [--write]

* **Time**: Russia's policy across the 29 dyads of scenarios/backtest/russia_dyads.toml,
  records to 2021-12-31, with the frozen backtest's settings (400 particles, 5
  generations, the default parameters plus choice_ban_local_hires): pooled (one
  process), partial with one worker and with two, side by side in this process. The
  partial fits are the same whatever the number of workers (checked).
* **Coverage** (``--coverage N``): N sets of synthetic records (three dyads, as in
  tests/test_pooling.py), each made with one parameter vector drawn from the prior;
  the share of 50% and 90% intervals, pooled and partial, that hold the truth.

``--write`` stores the figures in benchmarks/results/pooling.json and the table in
docs/calibration.md (between the pooling-figures markers); tests/test_pooling.py checks
that the document quotes the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from sim.analysis import calibrate as cal  # noqa: E402
from sim.analysis import pooling  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "pooling.json"
DOC = ROOT / "docs" / "calibration.md"
PARAMS = [*cal.CALIBRATED, "choice_ban_local_hires"]
NEW_PARAMS = ["respond_prob", "ratio", "choice_ban_local_hires", "restraint_floor", "saturation"]
UNTIL = dt.date(2021, 12, 31)


def timing() -> dict:
    dyads = pooling.load_dyad_set(ROOT / "scenarios" / "backtest" / "russia_dyads.toml").dyads
    settings = cal.SMCSettings(particles=400, generations=5)
    out = {}
    tables = {}
    for label, kind, workers in (
        ("pooled", "pooled", 1),
        ("partial, 1 worker", "partial", 1),
        ("partial, 2 workers", "partial", 2),
    ):
        started = time.perf_counter()
        fit = pooling.calibrate_across(
            dyads, UNTIL, kind, PARAMS, settings=settings, seed=1, workers=workers
        )
        out[label] = round(time.perf_counter() - started, 1)
        tables[label] = fit.table()
        print(f"{label:<22}{out[label]:>8.1f} s", flush=True)
    a, b = tables["partial, 1 worker"], tables["partial, 2 workers"]
    assert a.equals(b), "partial pooling depends on the number of workers"
    return {"dyads": len(dyads), "seconds": out, "settings": "400 particles, 5 generations"}


def coverage(n: int) -> dict:
    from test_pooling import _synthetic_dyads

    dyads = _synthetic_dyads()
    until = max(d.scenario.end for d in dyads)
    settings = cal.SMCSettings(particles=300, generations=4, batch=1024)
    out = {}
    for kind in ("pooled", "partial"):
        study = pooling.coverage_across(dyads, until, NEW_PARAMS, n, settings, kind)
        per = study.groupby("parameter", sort=False)[["covered_50", "covered_90"]].mean()
        out[kind] = {
            "intervals": len(study),
            "covered_50": round(float(study.covered_50.mean()), 3),
            "covered_90": round(float(study.covered_90.mean()), 3),
            "per_parameter_90": {k: round(float(v), 3) for k, v in per.covered_90.items()},
        }
        print(kind, out[kind], flush=True)
    return {"histories": n, "settings": "300 particles, 4 generations", **out}


def render(figures: dict) -> str:
    t = figures["timing"]
    c = figures["coverage"]
    lines = [
        f"Measured by `python benchmarks/bench_pooling.py --coverage {c['histories']} --write`"
        f" ({figures['machine']}):",
        "",
        f"| Russia across {t['dyads']} dyads, records to 2021-12-31 ({t['settings']}) | seconds |",
        "|---|---|",
        *(f"| {label} | {sec:.1f} |" for label, sec in t["seconds"].items()),
        "",
        f"Coverage of the intervals on {c['histories']} synthetic sets of three dyads "
        f"(parameters {', '.join(f'`{p}`' for p in NEW_PARAMS)} drawn from the prior; "
        f"{c['settings']}):",
        "",
        "| pooling | intervals | 50% intervals holding the truth | 90% intervals holding it "
        "| 90%, lowest parameter |",
        "|---|---|---|---|---|",
    ]
    for kind in ("pooled", "partial"):
        k = c[kind]
        low = min(k["per_parameter_90"].items(), key=lambda kv: kv[1])
        lines.append(
            f"| {kind} | {k['intervals']} | {k['covered_50']:.1%} | {k['covered_90']:.1%} "
            f"| {low[1]:.1%} (`{low[0]}`) |"
        )
    return "\n".join(lines)


def write_doc(figures: dict) -> None:
    import re

    text = DOC.read_text(encoding="utf-8")
    block = f"<!-- pooling-figures -->\n{render(figures)}\n<!-- /pooling-figures -->"
    new = re.sub(r"<!-- pooling-figures -->.*?<!-- /pooling-figures -->", block, text, flags=re.S)
    DOC.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coverage", type=int, default=40, metavar="N")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    machine = (
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
    )
    figures = {"machine": machine, "timing": timing(), "coverage": coverage(args.coverage)}
    print(render(figures))
    if args.write:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        write_doc(figures)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
