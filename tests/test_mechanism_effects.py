"""What each behaviour mechanism the main scenario opts into changed in its odds.

The shipped ``scenarios/us_russia_2021.toml`` is the version-1 file
(``tests/fixtures/v1/us_russia_2021.toml``, the main scenario before the behaviour
mechanisms) with the changes below, each justified in the shipped file's comments.
The first test checks that: version 1 plus every change gives the shipped file's runs,
run for run. The table in docs/model.md (§5.11) is then what ``sim.ablation`` gives for
each change alone and all together, paired on the same 10,000 runs; the second test
recomputes it. Regenerate the table with ``python tests/test_mechanism_effects.py``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import sim
from sim import Change
from sim.analysis.ablation import ALL_TOGETHER, apply_change

ROOT = Path(__file__).resolve().parent.parent
V1 = ROOT / "tests" / "fixtures" / "v1" / "us_russia_2021.toml"
SHIPPED = ROOT / "scenarios" / "us_russia_2021.toml"
DOC = ROOT / "docs" / "model.md"

#: The mechanisms the shipped main scenario opts into, as changes to version 1.
OPT_INS: dict[str, Change] = {
    "staff categories": Change(
        {"missions.us_in_russia.diplomats": 67, "missions.us_in_russia.admin_technical": 65},
        doc="the US embassy's 132: 67 diplomats and 65 Marines and guards (A35)",
    ),
    "staff-equivalents": Change(
        {"staff_weights.local_staff": 0.2},
        doc="a local employee weighs 0.2 of a diplomat (the 1986 precedent)",
    ),
    "US restraint": Change(
        {"states.us.policy.restraint_floor": 100},
        doc="the US answers only with what it can lose above 100 staff (A23, A35, A.3)",
    ),
    "Russia's ultimatum": Change(
        {"states.us.policy.comply": 0.05},
        events=[
            {
                "date": "2021-12-01",
                "actor": "russia",
                "target": "us",
                "kind": "ultimatum",
                "deadline": "2022-06-01",
                "then": "expel",
                "size": 12,
                "then_notice": 30,
                "source": "[A-wb] [A-nf1201] [A-urdu1201]",
            }
        ],
        doc="A29's second group 'by 2022-07-01 if no compromise', met with chance 0.05",
    ),
}
RUNS = 10_000
OUTCOMES = ("spiral", "relapse", "de_escalation", "unresolved")


def effects_table(table) -> str:
    """The ablation as the markdown table docs/model.md quotes."""
    lines = [
        "| mechanism | P(spiral) | change, points [95% CI] | P(de-escalation) "
        "| change, points [95% CI] | runs whose class moved |",
        "|---|---|---|---|---|---|",
    ]
    base = table[table.variant == table.variant.iloc[0]].set_index("outcome")["base"]
    lines.append(
        f"| version 1 (none) | {100 * base['spiral']:.1f} % | | "
        f"{100 * base['de_escalation']:.1f} % | | |"
    )
    for variant in dict.fromkeys(table.variant):
        rows = table[table.variant == variant].set_index("outcome")
        cells = [variant if variant != ALL_TOGETHER else "**all together (shipped)**"]
        for outcome in ("spiral", "de_escalation"):
            r = rows.loc[outcome]
            cells.append(f"{100 * r['p']:.1f} %")
            cells.append(
                f"{100 * r['diff']:+.1f} [{100 * r['ci95_low']:+.1f}, {100 * r['ci95_high']:+.1f}]"
            )
        cells.append(f"{int(rows['runs_changed'].iloc[0]):,}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compute() -> str:
    return effects_table(sim.ablation(V1, OPT_INS, runs=RUNS, outcomes=OUTCOMES))


@pytest.fixture(scope="module")
def ablation_table():
    """The ablation of the four opt-ins on 10,000 runs, computed once for this file."""
    return sim.ablation(V1, OPT_INS, runs=RUNS, outcomes=OUTCOMES)


def test_version_1_with_the_opt_ins_is_the_shipped_scenario():
    changed = apply_change(sim.load_scenario(V1), *OPT_INS.values())
    quiet = {"keep_trajectories": False, "keep_events": False}
    a = sim.run(changed, runs=2000, **quiet).ensemble
    b = sim.run(SHIPPED, runs=2000, **quiet).ensemble
    assert np.array_equal(a.outcome, b.outcome)
    assert np.array_equal(a.outcome_step, b.outcome_step)
    assert np.array_equal(a.final_staff, b.final_staff)


def test_docs_model_quotes_the_paired_effects(ablation_table):
    text = DOC.read_text()
    found = re.search(r"<!-- mechanism-effects -->\n(.*?)\n<!-- /mechanism-effects -->", text, re.S)
    assert found, "docs/model.md has no mechanism-effects table"
    assert found.group(1).strip() == effects_table(ablation_table)


def test_the_sentences_around_the_table_read_it_right(ablation_table):
    """ "The staff categories and the staff-equivalents move no run's class ... The US
    floor of 100 removes about a quarter of the spirals, mostly into relapses. The
    ultimatum ... raises the spiral risk by about 15 points on its own. Together they
    move it by little." (docs/model.md §5.11)"""
    row = ablation_table.set_index(["variant", "outcome"])
    for name in ("staff categories", "staff-equivalents"):
        assert (row.xs(name, level="variant")["runs_changed"] == 0).all(), name
    base = row.loc[("US restraint", "spiral"), "base"]
    fall = -row.loc[("US restraint", "spiral"), "diff"]
    assert 0.22 <= fall / base <= 0.3
    assert row.loc[("US restraint", "relapse"), "diff"] > fall / 2
    assert 0.13 <= row.loc[("Russia's ultimatum", "spiral"), "diff"] <= 0.17
    assert abs(row.loc[(ALL_TOGETHER, "spiral"), "diff"]) < 0.03
    assert row.loc[(ALL_TOGETHER, "de_escalation"), "ci95_low"] > 0.03
    assert row.loc[(ALL_TOGETHER, "relapse"), "ci95_high"] < -0.03


@pytest.mark.parametrize("name", sorted(OPT_INS))
def test_each_opt_in_is_in_the_shipped_file(name):
    shipped = sim.load_scenario(SHIPPED).raw
    for path, value in OPT_INS[name].overrides.items():
        node = shipped
        for part in path.split("."):
            node = node[part]
        assert node == value, path


if __name__ == "__main__":
    print(compute())
    sys.exit(0)
