"""Scenario discovery and robust choices on the 2021 scenario: what they find, and the time.

    python benchmarks/bench_discovery.py [--write]

1. ``us_russia_2021_uncertain.toml`` at its own runs and seed (10,000): the ensemble, then
   ``sim.discover(result, "spiral")`` with the defaults (20 resamples): the box, its
   coverage, density and mass, each restriction's quasi-p-value and resampling share.
2. ``sim.robust`` with the US answer ratio (0.5, 1, 1.5) and readiness to reciprocate a
   conciliatory move, which is how the US takes an offer (0.05, 0.3, 0.6): 200 worlds x
   50 runs per world, on two worker processes.

``--write`` stores the figures in ``benchmarks/results/discovery.json`` and the text
between the ``discovery-figures`` markers of ``docs/discovery.md``;
``tests/test_discover.py`` checks that the text is the one these figures give.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "us_russia_2021_uncertain.toml"
RESULTS = ROOT / "benchmarks" / "results" / "discovery.json"
DOC = ROOT / "docs" / "discovery.md"
LEVERS = {
    "states.us.policy.ratio": [0.5, 1.0, 1.5],
    "states.us.policy.reciprocate": [0.05, 0.3, 0.6],
}
WORLDS, RUNS_PER_WORLD, WORKERS = 200, 50, 2


def measure() -> dict:
    import sim

    started = time.perf_counter()
    result = sim.run(SCENARIO, keep_events=False)
    run_s = time.perf_counter() - started
    started = time.perf_counter()
    found = sim.discover(result, "spiral")
    discover_s = time.perf_counter() - started
    started = time.perf_counter()
    robust = sim.robust(
        SCENARIO, LEVERS, worlds=WORLDS, runs_per_world=RUNS_PER_WORLD, workers=WORKERS
    )
    robust_s = time.perf_counter() - started
    boxes = found.to_json()
    return {
        "scenario": SCENARIO.relative_to(ROOT).as_posix(),
        "runs": result.n_runs,
        "seed": result.seed,
        "discover": {
            "base_rate": boxes["base_rate"],
            "box": boxes["prim"]["box"],
            "chosen_box": boxes["prim"]["chosen_box"],
            "boxes_on_trajectory": len(boxes["prim"]["trajectory"]),
            "dropped": boxes["prim"]["dropped_restrictions"],
            "resampling": boxes["prim"]["resampling"],
            "cart_densest": boxes["cart"][0],
            "timing_s": boxes["timing_s"],
        },
        "robust": {
            "levers": LEVERS,
            "worlds": WORLDS,
            "runs_per_world": RUNS_PER_WORLD,
            "workers": WORKERS,
            "reference": robust.reference,
            "table": json.loads(robust.table().to_json(orient="records")),
        },
        "seconds": {
            "run": round(run_s, 2),
            "discover": round(discover_s, 2),
            "robust": round(robust_s, 2),
        },
        "machine": {"cpus": os.cpu_count()},
    }


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def summary_text(figures: dict) -> str:
    d = figures["discover"]
    box = d["box"]
    lines = [
        f"On `{figures['scenario']}` ({figures['runs']:,} runs, seed {figures['seed']}), "
        f"{_pct(d['base_rate'])} of runs spiral. PRIM passes through "
        f"{d['boxes_on_trajectory']} boxes and takes box {d['chosen_box']}; without its "
        f"insignificant restrictions the box holds {_pct(box['mass'])} of the runs, "
        f"{_pct(box['coverage'])} of the spirals (coverage), and {_pct(box['density'])} of "
        "its runs spiral (density):",
        "",
        "| restricted parameter | range | quasi-p | restricted in resamples |",
        "|---|---|---|---|",
    ]
    shares = d["resampling"]["restricted_share"]
    for name, limit in box["restricted"].items():
        p = limit["quasi_p"]
        lines.append(
            f"| `{name}` | {limit['low']:.3g} to {limit['high']:.3g} | "
            f"{'<0.001' if p < 0.001 else f'{p:.2g}'} | {_pct(shares[name])} |"
        )
    for drop in d["dropped"]:
        lines.append(
            f"| (dropped) `{drop['name']}` | {drop['low']:.3g} to {drop['high']:.3g} | "
            f"{drop['quasi_p']:.2g} | "
            f"{_pct(shares[drop['name']])} |"
        )
    others = [n for n in shares if n not in box["restricted"]]
    if others:
        lines += [
            "",
            "Not restricted: "
            + ", ".join(f"`{n}` ({_pct(shares[n])} of resamples)" for n in others)
            + ".",
        ]
    r = figures["robust"]
    lines += [
        "",
        f"Robust choices, {r['worlds']} worlds x {r['runs_per_world']} runs per world "
        f"(the same runs for every policy); differences are from policy {r['reference']}, "
        "the scenario's own values:",
        "",
        "| policy | US ratio | US reciprocate | P(spiral) [95%] | worst 10% of worlds "
        "| regret mean / p90 / max | difference from the scenario's [95%] |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["table"]:
        lines.append(
            f"| {row['policy']} | {row['states.us.policy.ratio']:g} | "
            f"{row['states.us.policy.reciprocate']:g} | {_pct(row['p_spiral'])} "
            f"[{_pct(row['ci95_low_spiral'])}, {_pct(row['ci95_high_spiral'])}] | "
            f"{_pct(row['worst_decile_spiral'])} | {100 * row['regret_mean_spiral']:.1f} / "
            f"{100 * row['regret_p90_spiral']:.1f} / {100 * row['regret_max_spiral']:.1f} | "
            f"{100 * row['diff_spiral']:+.1f} [{100 * row['diff_ci95_low_spiral']:+.1f}, "
            f"{100 * row['diff_ci95_high_spiral']:+.1f}] |"
        )
    s = figures["seconds"]
    lines += [
        "",
        f"Time on this {figures['machine']['cpus']}-core machine: the ensemble "
        f"{s['run']:.1f} s, discovery {s['discover']:.1f} s (PRIM "
        f"{d['timing_s']['prim_s']:.2f} s, {d['resampling']['resamples']} resamples "
        f"{d['timing_s']['resampling_s']:.2f} s, CART {d['timing_s']['cart_s']:.2f} s), the "
        f"robust analysis {s['robust']:.1f} s ({len(r['table'])} policies, "
        f"{len(r['table']) * r['worlds'] * r['runs_per_world']:,} runs, {r['workers']} "
        "workers).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    figures = measure()
    text = summary_text(figures)
    print(text)
    if args.write:
        import docs_block

        RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
        docs_block.write(DOC, "discovery-figures", text)


if __name__ == "__main__":
    main()
