"""The explorer's response time: from a change on the page to the page redrawn.

    python benchmarks/bench_explore.py [--changes N] [--write] [--shots DIR]

Starts ``python -m sim explore scenarios/us_russia_2021.toml`` (10,000 runs, the
scenario's default) as the README says, opens it in headless Chromium (Debian's
package, driven by Playwright), waits for the first ensemble, then makes N changes the
way an analyst does, alternately leaving out Russia's ultimatum (event 9) and putting it
back, and a slider step on the US answer ratio. Each change is timed in the browser,
from the click or key press to the moment the page shows "computed in" for the new
settings with the new table and both charts redrawn: the whole loop, with the server
(the ensemble, the paired table, the chart data) and the browser on this machine's
cores. The server's own part, as the page reports it, is kept beside each figure.

``--write`` stores the figures in benchmarks/results/explore.json and the summary in
docs/explore.md (between the explore-figures markers); tests/test_explore.py checks
that the document quotes the file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "explore.json"
DOC = ROOT / "docs" / "explore.md"
SCENARIO = "scenarios/us_russia_2021.toml"
DONE = re.compile(r"^computed in ([0-9.]+) s$")
#: True when the page shows "computed in ... s" (a JavaScript expression).
FIND_DONE = (
    "[...document.querySelectorAll('.status')]"
    ".some(e => /^computed in [0-9.]+ s$/.test(e.textContent.trim()))"
)


def _start(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "explore", SCENARIO, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("the explorer did not start")


def _server_seconds(page) -> float:
    return float(DONE.match(page.get_by_text(DONE).inner_text().strip()).group(1))


def standalone(repeats: int = 3) -> float:
    """The server's work for one change, timed in this process alone (no page, no
    browser): the changed ensemble, the paired table and the chart data."""
    from sim.explore import app
    from sim.explore.session import Explorer, Settings

    explorer = Explorer(ROOT / SCENARIO)
    explorer.compute(Settings())
    times = []
    for i in range(repeats):
        settings = (
            Settings().with_dropped(9, True).with_override("states.us.policy.ratio", 1 + i / 100)
        )
        t0 = time.perf_counter()
        base, variant = explorer.compute(settings)
        explorer.table(base, variant)
        app.incidence_chart(variant)
        app.fan_chart(variant, base)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(changes: int, shots: Path | None) -> dict:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)
    load_before = os.getloadavg()[0]
    alone = standalone()
    port = free_port()
    server = _start(port)
    times, server_times, kinds = [], [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            started = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            expect(page.get_by_text(DONE)).to_be_visible()
            first = time.perf_counter() - started
            page.get_by_text("Scenario events (untick to leave one out)").click()
            event = page.locator("label", has_text=re.compile(r"^9\. 2021-12-01"))
            thumb = page.locator(".control", has_text="ratio = ").first.locator(
                ".v-slider__thumb-container"
            )
            for i in range(changes):
                page.wait_for_timeout(300)  # let the page settle; not timed
                if i % 2 == 0:
                    kinds.append("event switch")
                    t0 = time.perf_counter()
                    event.click()
                else:
                    kinds.append("slider step")
                    thumb.focus()
                    t0 = time.perf_counter()
                    thumb.press("ArrowRight")
                # The status leaves "computed in" at once (the settings differ from the
                # shown result's) and comes back when the new result is drawn. Checked at
                # every animation frame: Playwright's expect() polls at growing intervals
                # (up to a second), which would be timed as the page's.
                page.wait_for_function(f"() => !{FIND_DONE}", polling="raf", timeout=5_000)
                page.wait_for_function(f"() => {FIND_DONE}", polling="raf", timeout=120_000)
                times.append(time.perf_counter() - t0)
                server_times.append(_server_seconds(page))
            if shots is not None:
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / "explorer.png"))
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return {
        "scenario": SCENARIO,
        "runs": 10_000,
        "changes": kinds,
        "seconds": [round(t, 3) for t in times],
        "server_seconds": [round(t, 3) for t in server_times],
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "first_page_s": round(first, 3),
        "server_work_alone_s": round(alone, 3),
        "budget_s": 2.0,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        # other work on the machine slows both the server and the browser
        "load_average_1min": {
            "before": round(load_before, 2),
            "after": round(os.getloadavg()[0], 2),
        },
        "measured_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def summary_text(figures: dict) -> str:
    within = sum(t <= figures["budget_s"] for t in figures["seconds"])
    n = len(figures["seconds"])
    server = statistics.median(figures["server_seconds"])
    return (
        f"Measured on {figures['machine']['cpus']} cores "
        f"({figures['measured_utc'][:10]}), {figures['runs']:,} runs of "
        f"`{figures['scenario']}`: a change is recomputed and redrawn in "
        f"{figures['median_s']:.2f} s (median of {n} changes; slowest "
        f"{figures['max_s']:.2f} s; {within} of {n} within the "
        f"{figures['budget_s']:.0f}-second budget), of which the server's part "
        f"(ensemble, paired table, chart data) is {server:.2f} s; the same work alone in one "
        f"process, with no page or browser, takes {figures['server_work_alone_s']:.2f} s. "
        "The first page, with "
        f"the baseline's ensemble, takes {figures['first_page_s']:.1f} s (load average "
        f"{figures['load_average_1min']['before']:.2f} before the run)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--shots", type=Path)
    args = parser.parse_args()
    figures = measure(args.changes, args.shots)
    text = summary_text(figures)
    print(json.dumps(figures, indent=2))
    print(text)
    if args.write:
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
        import docs_block

        docs_block.write(DOC, "explore-figures", text)


if __name__ == "__main__":
    main()
