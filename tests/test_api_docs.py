"""docs/api.md documents every public name and says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parent.parent
API = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
MAIN = ROOT / "scenarios" / "us_russia_2021.toml"


@pytest.mark.parametrize("name", sim.__all__)
def test_every_public_name_is_documented(name):
    # In the table at the top (a link to its section, or the name itself) ...
    table = API.split("\n## ", 1)[0]
    assert f"`sim.{name}`" in table, f"sim.{name} is missing from the table of docs/api.md"
    # ... and with a section of its own, or (the version) described in the table.
    if name != "__version__":
        headings = re.findall(r"^## (.*)$", API, re.M)
        assert any(f"`sim.{name}`" in h for h in headings), f"no section for sim.{name}"


def test_the_table_links_to_sections_that_exist():
    headings = re.findall(r"^## (.*)$", API, re.M)
    anchors = {re.sub(r"[^a-z0-9_ -]", "", h.lower()).replace(" ", "-") for h in headings}
    for anchor in re.findall(r"\]\(#([^)]+)\)", API):
        assert anchor in anchors, anchor


class TestDottedKindOverride:
    """docs/api.md: a dotted ``...policy.kind`` drops the old kind's own parameters
    (ratio, for proportional), keeps the common ones, and gives the same policy as
    replacing the policy table."""

    def test_it_is_what_the_docs_say(self):
        scenario = sim.load_scenario(MAIN)
        dotted = scenario.with_overrides(
            {"states.us.policy.kind": "generous", "states.us.policy.forgiveness": 1 / 3}
        )
        policy = {k: v for k, v in scenario.raw["states"]["us"]["policy"].items() if k != "ratio"}
        table = scenario.with_overrides(
            {"states.us.policy": {**policy, "kind": "generous", "forgiveness": 1 / 3}}
        )
        us = dotted.states["us"].policies["russia"]
        assert us == table.states["us"].policies["russia"]
        assert us["kind"] == "generous" and "ratio" not in us
        old = scenario.states["us"].policies["russia"]
        for common in ("respond_prob", "lag", "noise", "reciprocate", "restraint_floor"):
            assert us[common] == old[common]
        assert '"states.us.policy.kind": "generous"' in API
        assert "is\n  # rejected" not in API and "alone is rejected" not in API

    def test_alone_it_is_accepted_and_runs(self):
        scenario = sim.load_scenario(MAIN)
        alone = scenario.with_overrides({"states.us.policy.kind": "generous"})
        us = alone.states["us"].policies["russia"]
        assert us["kind"] == "generous" and "ratio" not in us
        result = sim.run(alone, runs=50, keep_trajectories=False, keep_events=False)
        assert result.n_runs == 50
