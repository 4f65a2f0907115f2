"""The explorer in a real browser: headless Chromium (Debian's package) driven by Playwright.

``python -m sim explore`` is started as the README says; the tests load the page, move
controls as an analyst would (a slider by keyboard, an event's switch, the offer) and
check that the probabilities shown are those ``sim.run`` gives for the same parameters
and seed. Each state of the page is saved as a screenshot, in ``$SIM_SCREENSHOTS`` if
set (else the test's temporary directory), to be looked at.

Without Chromium the tests skip, saying why; CI sets ``SIM_REQUIRE_BROWSER=1`` so that
there a missing browser is a failure, never a skip.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parents[1]
MAIN = "scenarios/us_russia_2021.toml"
RUNS = 500
from browser_support import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


if _missing():
    if os.environ.get("SIM_REQUIRE_BROWSER"):
        raise RuntimeError(f"SIM_REQUIRE_BROWSER is set but {_missing()}")
    pytest.skip(_missing(), allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

expect.set_options(timeout=60_000)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    where = os.environ.get("SIM_SCREENSHOTS")
    out = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def server():
    port = free_port()
    command = [sys.executable, "-m", "sim", "explore", MAIN, "--runs", str(RUNS)]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode(errors="replace")[-2000:]
                process.kill()
                pytest.fail(f"the explorer did not start:\n{output}")
            time.sleep(0.3)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(90_000)
        page.goto(server)
        _wait_until_computed(page)
        yield page
        browser.close()


def _wait_until_computed(page: Page) -> None:
    expect(page.get_by_text(re.compile(r"^computed in [0-9.]+ s$"))).to_be_visible(timeout=90_000)


def _shown(page: Page, label: str) -> tuple[str, str]:
    """(P, difference) shown in the outcome table's row ``label``."""
    cells = page.locator("tr", has_text=label).first.locator("td")
    return cells.nth(1).inner_text().strip(), cells.nth(4).inner_text().strip()


def _command(page: Page) -> str:
    return page.locator(".command").inner_text()


def _expected(result, base, outcome: str) -> tuple[str, str]:
    p = result.summary()["outcomes"][outcome]["p"]
    diff = sim.paired_difference(base, result, outcome)["diff"]
    return f"{100 * p:.1f}%", f"{100 * diff:+.1f}"


@pytest.fixture(scope="module")
def baseline():
    return sim.run(ROOT / MAIN, runs=RUNS, keep_events=False)


def test_the_page_shows_what_sim_run_gives(page, baseline, shots):
    page.screenshot(path=str(shots / "explorer_loaded.png"), full_page=True)
    for outcome, label in [("spiral", "spiral"), ("de_escalation", "de-escalation")]:
        assert _shown(page, label) == _expected(baseline, baseline, outcome)
    assert "computed in" in page.content()
    # The page draws its charts in the browser, offline. ECharts mounts its canvases
    # after the table is shown, so wait for the second one rather than count at once.
    expect(page.locator("canvas").nth(1)).to_be_attached(timeout=30_000)


def test_moving_a_slider_moves_the_odds_as_sim_run_does(page, baseline, shots):
    control = page.locator(".control", has_text="ratio = 1").first
    thumb = control.locator(".v-slider__thumb-container")
    thumb.focus()
    for _ in range(30):
        thumb.press("ArrowRight")
    expect(page.locator(".command")).to_contain_text("states.us.policy.ratio=1.3")
    _wait_until_computed(page)
    page.screenshot(path=str(shots / "explorer_ratio.png"), full_page=True)
    found = re.search(r"states\.us\.policy\.ratio=([0-9.]+)", _command(page))
    ratio = float(found.group(1))
    variant = sim.run(
        ROOT / MAIN, runs=RUNS, overrides={"states.us.policy.ratio": ratio}, keep_events=False
    )
    for outcome, label in [("spiral", "spiral"), ("relapse", "relapse")]:
        assert _shown(page, label) == _expected(variant, baseline, outcome)


def test_leaving_out_an_event_and_taking_the_offer(page, baseline, shots):
    page.get_by_text("Reset all").click()
    expect(page.locator(".command")).not_to_contain_text("--set")
    page.get_by_text("Scenario events (untick to leave one out)").click()
    # a Vuetify checkbox takes its clicks on its label (the input is under a ripple)
    page.locator("label", has_text=re.compile(r"^9\. 2021-12-01")).click()
    page.locator("label", has_text="United States takes Russia's offer of 2021-12-01").click()
    expect(page.locator(".command")).to_contain_text("--drop-event 9")
    expect(page.locator(".command")).to_contain_text("--take-offer us")
    _wait_until_computed(page)
    page.screenshot(path=str(shots / "explorer_offer.png"), full_page=True)
    variant = sim.run(ROOT / MAIN, runs=RUNS, drop_events=[9], take_offer="us", keep_events=False)
    for outcome, label in [("spiral", "spiral"), ("de_escalation", "de-escalation")]:
        assert _shown(page, label) == _expected(variant, baseline, outcome)


def test_a_runs_story_is_the_story_sim_tells(page, shots):
    _wait_until_computed(page)
    page.get_by_text("A run's story").click()
    page.get_by_role("button", name="typical spiral").click()
    told = page.locator("pre", has_text="of us_russia_2021 — spiral")
    expect(told).to_be_visible()
    run = int(re.search(r"^run (\d+) of", told.inner_text()).group(1))
    page.screenshot(path=str(shots / "explorer_story.png"), full_page=True)
    result = sim.run(ROOT / MAIN, runs=RUNS, drop_events=[9], take_offer="us")
    assert told.inner_text().strip() == result.story("spiral").strip()
    assert result.story("spiral") == result.story(run)


def test_long_work_shows_progress_and_can_be_cancelled(page, shots):
    runs = page.get_by_label(re.compile(r"^runs \("))
    runs.fill("100000")
    runs.press("Enter")
    expect(page.get_by_text(re.compile(r"^computing\.\.\. \d+%$"))).to_be_visible()
    page.screenshot(path=str(shots / "explorer_progress.png"))
    page.get_by_role("button", name="Cancel").click()
    expect(
        page.get_by_text("Cancelled: what is shown below is of earlier settings.")
    ).to_be_visible()
    expect(page.get_by_text("results of earlier settings")).to_be_visible()
    page.screenshot(path=str(shots / "explorer_cancelled.png"))
