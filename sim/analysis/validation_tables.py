"""The tables of docs/validation.md part II, rendered from a scoring run's files.

A scoring run of the frozen backtest (``python -m sim backtest
scenarios/backtest/frozen_2022_2023.toml --out DIR``) writes ``answers.csv``,
``scores.csv``, ``scores_by_dyad.csv`` and ``posterior.csv``. The runs quoted by the
document are kept in ``docs/results/``; tests/test_frozen.py checks that each table in
the document is what these functions make of them. Formatting only: the scores are the
scoring run's.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = [
    "by_dyad",
    "by_window",
    "counterparts",
    "losses",
    "parameters",
    "render_all",
    "verdict",
]

FORECASTERS = ("model", "laplace", "one_for_one")


def _diff(row, who: str) -> str:
    return f"{row[f'diff_{who}']:+.3f} ({row[f'se_{who}']:.3f})"


def by_window(scores: pd.DataFrame) -> str:
    """Mean scores per window and overall, with paired differences (SE)."""
    lines = [
        "| score | window | n | model | Laplace | one-for-one | model − Laplace (SE) "
        "| model − one-for-one (SE) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, row in scores.iterrows():
        name = row.score if row.score != "crps" else f"CRPS, {row.kind}"
        lines.append(
            f"| {name} | {row.window} | {row.n} | {row.mean_model:.3f} | {row.mean_laplace:.3f} "
            f"| {row.mean_one_for_one:.3f} | {_diff(row, 'laplace')} "
            f"| {_diff(row, 'one_for_one')} |"
        )
    return "\n".join(lines)


def by_dyad(answers: pd.DataFrame) -> str:
    """Per window and dyad: mean Brier and log scores (binary), mean CRPS per kind."""
    lines = [
        "| window | dyad | binary n | Brier m / L / 1:1 | log m / L / 1:1 | CRPS ratio m / L / 1:1 "
        "| CRPS lag (weeks) m / L / 1:1 | CRPS staff m / L / 1:1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (window, dyad), part in answers.groupby(["window", "dyad"], sort=False):
        cells = []
        brier = part[part.score == "brier"]
        for score, kind in (
            ("brier", None),
            ("log", None),
            ("crps", "ratio"),
            ("crps", "lag"),
            ("crps", "staff"),
        ):
            chosen = part[part.score == score]
            if kind:
                chosen = chosen[chosen.kind == kind]
            if chosen.empty:
                cells.append("—")
                continue
            digits = 1 if kind == "staff" else 2 if kind else 3
            cells.append(" / ".join(f"{chosen[w].mean():.{digits}f}" for w in FORECASTERS))
        lines.append(f"| {window} | {dyad} | {len(brier)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parameters(posterior: pd.DataFrame, state: str = "russia") -> str:
    """The state's calibrated parameters: its population (mu, with the spread tau) and
    each questioned dyad's posterior, per window: median [90% interval]."""
    rows = posterior[posterior.state == state]
    dyads = [d for d in dict.fromkeys(rows.dyad) if d == "state (mu)" or d in _QUESTIONED]
    params = list(dict.fromkeys(rows.parameter))
    windows = list(dict.fromkeys(rows.window))
    lines = [
        "| window | dyad | " + " | ".join(f"`{p}`" for p in params) + " |",
        "|---|---|" + "---|" * len(params),
    ]
    for window in windows:
        for dyad in dyads:
            part = rows[(rows.window == window) & (rows.dyad == dyad)].set_index("parameter")
            cells = [_interval(part.loc[p]) for p in params]
            lines.append(f"| {window} | {dyad} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def counterparts(posterior: pd.DataFrame, state: str = "russia") -> str:
    """Each counterpart's own calibration (on its dyad), per window."""
    rows = posterior[posterior.state != state]
    params = list(dict.fromkeys(rows.parameter))
    lines = [
        "| window | state | " + " | ".join(f"`{p}`" for p in params) + " |",
        "|---|---|" + "---|" * len(params),
    ]
    for (window, who), part in rows.groupby(["window", "state"], sort=False):
        part = part.set_index("parameter")
        lines.append(
            f"| {window} | {who} | " + " | ".join(_interval(part.loc[p]) for p in params) + " |"
        )
    return "\n".join(lines)


_QUESTIONED = ("us", "uk", "germany", "poland", "czechia", "france")


def _interval(row) -> str:
    return f"{row['median']:.3g} [{row['q05']:.3g}, {row['q95']:.3g}]"


def losses(answers: pd.DataFrame, n: int = 12) -> str:
    """The binary questions the model lost most on, against the Laplace baseline (log
    score), with the three forecasters' probabilities."""
    log = answers[answers.score == "log"].copy()
    log["loss"] = log.model - log.laplace
    worst = log.sort_values(["loss", "question"], ascending=[False, True]).head(n)
    lines = [
        "| dyad | question | happened | model | Laplace | one-for-one | log loss vs Laplace |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, row in worst.iterrows():
        lines.append(
            f"| {row.dyad} | {row.text} | {'yes' if row.outcome else 'no'} | {row.p_model:.3f} "
            f"| {row.p_laplace:.3f} | {row.p_one_for_one:.3f} | {row.loss:+.2f} |"
        )
    return "\n".join(lines)


def verdict(scores: pd.DataFrame) -> str:
    """The sentence that answers the issue's goal, from the overall rows."""
    overall = scores[scores.window == "all"]

    def cell(score: str, kind: str, who: str) -> str:
        row = overall[(overall.score == score) & (overall.kind.fillna("") == kind)].iloc[0]
        return f"{row[f'diff_{who}']:+.3f} (SE {row[f'se_{who}']:.3f})"

    def better(score: str, kind: str, who: str) -> bool:
        row = overall[(overall.score == score) & (overall.kind.fillna("") == kind)].iloc[0]
        return bool(row[f"diff_{who}"] < 0)

    checks = [
        (s, k, w)
        for s, k in (
            ("brier", ""),
            ("log", ""),
            ("crps", "ratio"),
            ("crps", "lag"),
            ("crps", "staff"),
        )
        for w in ("laplace", "one_for_one")
    ]
    won = [c for c in checks if better(*c)]
    head = (
        "**The model beats both baselines on every score.**"
        if len(won) == len(checks)
        else "**The model does not beat both baselines.**"
    )
    return (
        f"{head} Over both windows, the paired differences model − baseline (negative "
        f"favours the model) are: Brier {cell('brier', '', 'laplace')} against Laplace and "
        f"{cell('brier', '', 'one_for_one')} against one-for-one; log score "
        f"{cell('log', '', 'laplace')} and {cell('log', '', 'one_for_one')}; CRPS of the "
        f"answer ratio {cell('crps', 'ratio', 'laplace')} and "
        f"{cell('crps', 'ratio', 'one_for_one')}; of the lag "
        f"{cell('crps', 'lag', 'laplace')} and {cell('crps', 'lag', 'one_for_one')}; of a "
        f"mission's staff {cell('crps', 'staff', 'laplace')} and "
        f"{cell('crps', 'staff', 'one_for_one')}. It is ahead on {len(won)} of these "
        f"{len(checks)} comparisons."
    )


def render_all(run: str | Path) -> dict[str, str]:
    """Every table of the document, by the name of its marker."""
    run = Path(run)
    answers = pd.read_csv(run / "answers.csv")
    posterior = pd.read_csv(run / "posterior.csv")
    scores = pd.read_csv(run / "scores.csv")
    return {
        "frozen-scores": by_window(scores),
        "frozen-verdict": verdict(scores),
        "frozen-losses": losses(answers),
        "frozen-dyads": by_dyad(answers),
        "frozen-russia": parameters(posterior),
        "frozen-counterparts": counterparts(posterior),
    }
