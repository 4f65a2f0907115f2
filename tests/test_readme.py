"""Every number the README and docs/model.md quote for the main scenario is what the code
gives: the sample output block verbatim, and the figures in the sentences around it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sim
from sim.cli import format_summary

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"


@pytest.fixture(scope="module")
def main_run():
    result = sim.run(MAIN, keep_trajectories=False, keep_events=False)
    summary = result.summary()
    summary["why"]["offer_whatif"] = sim.offer_whatif(result)
    return result, summary


def pct(p: float) -> str:
    return f"{100 * p:.1f}%"


def test_the_readme_sample_is_what_the_main_command_prints(main_run):
    result, summary = main_run
    printed = format_summary(result.ensemble, summary).rstrip("\n").split("\n")
    assert printed[-1].startswith("wall time")
    # The README's command gives the path relative to the project's root.
    printed[0] = printed[0].replace(str(MAIN), "scenarios/us_russia_2021.toml")
    expected = "\n".join(printed[:-2])  # the wall time varies; the README leaves it out
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Sample output.*?```\n(.*?)\n```", readme, re.S).group(1)
    assert block == expected


def test_the_readme_reading_quotes_the_computed_figures(main_run):
    _, summary = main_run
    readme = " ".join((ROOT / "README.md").read_text().split())
    outcomes = summary["outcomes"]
    whatif = summary["why"]["offer_whatif"][0]["outcomes"]["spiral"]
    assert 0.35 <= outcomes["spiral"]["p"] <= 0.45  # "about four runs in ten"
    assert 0.18 <= outcomes["de_escalation"]["p"] <= 0.23  # "about one in five"
    assert 0.34 <= outcomes["relapse"]["p"] < 0.4  # "nearly four in ten"
    assert f"from {pct(whatif['base'])} to {pct(whatif['whatif'])}" in readme
    fall = (
        f"a paired fall of {-100 * whatif['diff']:.1f} points "
        f"[{-100 * whatif['ci95_high']:.1f}, {-100 * whatif['ci95_low']:.1f}]"
    )
    assert fall in readme
    assert 0.55 <= -whatif["diff"] / whatif["base"] <= 0.65  # "about three fifths"
    # "the runs it saves relapse later, and fewer runs stay calm to the horizon"
    taken = summary["why"]["offer_whatif"][0]["outcomes"]
    relapse, calm = taken["relapse"], taken["de_escalation"]
    assert relapse["ci95_low"] > 0 and calm["ci95_high"] < 0
    assert f"de-escalation falls from {pct(calm['base'])} to {pct(calm['whatif'])}" in readme
    # The version-1 figure the README quotes is what the version-1 fixture gives.
    v1 = sim.run(
        ROOT / "tests" / "fixtures" / "v1" / "us_russia_2021.toml",
        keep_trajectories=False,
        keep_events=False,
    ).summary()["outcomes"]["spiral"]["p"]
    assert f"the same command gave {pct(v1)} spiral" in readme


def test_docs_model_quotes_the_computed_figures(main_run):
    _, summary = main_run
    text = " ".join((ROOT / "docs" / "model.md").read_text().split())
    o = summary["outcomes"]
    for name in ("spiral", "relapse", "de_escalation", "unresolved"):
        lo, hi = o[name]["ci95"]
        quoted = f"{100 * o[name]['p']:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]"
        assert quoted in text, name
    whatif = summary["why"]["offer_whatif"][0]["outcomes"]["spiral"]
    assert f"{100 * whatif['base']:.1f} % to {100 * whatif['whatif']:.1f} %" in text
    spirals = o["spiral"]["count"]
    assert f"({spirals:,} of {spirals:,})" in text
    assert summary["why"]["spirals_by_closed_mission"]["us_in_russia"] == spirals
    accepted = summary["why"]["offer_accepted"]
    assert f"accepted in {100 * accepted['p']:.1f} % of runs ({accepted['count']:,})" in text
    with_offer = summary["why"]["outcomes_if_offer_accepted"]["spiral"]["p"]
    without = summary["why"]["outcomes_if_no_offer_accepted"]["spiral"]["p"]
    assert f"{100 * with_offer:.1f} % spiralled against {100 * without:.1f} %" in text


def test_docs_scenario_format_quotes_the_two_recipes_for_taking_the_offer(main_run):
    """--take-offer (one dated acceptance) and reciprocate = 1 (a standing readiness) are
    different questions with different answers; the doc quotes both, paired."""
    base, _ = main_run
    text = " ".join((ROOT / "docs" / "scenario-format.md").read_text().split())
    quiet = {"keep_trajectories": False, "keep_events": False}
    taken = sim.run(MAIN, take_offer="us", **quiet)
    ready = sim.run(MAIN, overrides={"states.us.policy.reciprocate": 1}, **quiet)
    assert f"P(spiral) is {100 * base.summary()['outcomes']['spiral']['p']:.1f} %" in text
    for variant in (taken, ready):
        p = variant.summary()["outcomes"]["spiral"]["p"]
        d = sim.paired_difference(base, variant, "spiral")
        quoted = (
            f"{100 * p:.1f} % with"
            if variant is taken
            else f"{100 * p:.1f} % with `reciprocate = 1`"
        )
        assert quoted in text
        interval = (
            f"{100 * d['diff']:.1f} points [{100 * d['ci95_low']:.1f}, {100 * d['ci95_high']:.1f}]"
        ).replace("-", "−")
        assert interval in text
