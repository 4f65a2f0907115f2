"""Command line: ``python -m sim run|sweep|validate|policies``.

Exit status: 0 success, 2 bad usage or bad scenario, 1 unexpected error, 3 a sweep
finished but some of its points failed (each is recorded with its error).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from sim import api
from sim.analysis import resources
from sim.analysis.discover import DiscoveryError, discover
from sim.analysis.resources import ResourceError
from sim.analysis.results import OutputError, atomic_write, staged_output, write_results
from sim.analysis.robust import RobustResult, parse_lever, run_robust
from sim.analysis.runner import (
    DEFAULT_BLOCK_SIZE,
    Ensemble,
    Terminated,
    _stop,
    _terminated,
    request_stop,
)
from sim.analysis.sweep import (
    SweepError,
    SweepSpec,
    load_sweep_file,
    parse_param,
    parse_spec,
    run_sweep,
)
from sim.distributions import scenario_distributions
from sim.engine.missions import Kind
from sim.outcome_classes import display_order
from sim.policies import (
    COMMON_PARAMS,
    POLICIES,
    PluginError,
    choice_params,
    load_entry_point_policies,
    load_plugin_module,
)
from sim.scenario import (
    MAX_RUNS,
    Scenario,
    ScenarioError,
    apply_overrides,
    forecast_warnings,
    load_scenario,
    parse_event_spec,
    parse_override,
    scenario_from_dict,
)
from sim.scenario import events_file as events_file_module

__all__ = ["main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_POINTS_FAILED = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # 128 + SIGINT, 128 + SIGTERM


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit 2 too; keep its wording
        self.print_usage(sys.stderr)
        raise UsageError(message)


def _whole_number(minimum: int, what: str, maximum: int = MAX_RUNS):
    """An argparse type: a whole number from ``minimum`` to ``maximum``."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip()) if len(text) <= 40 else None
        except ValueError:
            value = None
        if value is None:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise argparse.ArgumentTypeError(f"expected a whole number, found {shown!r}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what} >= {minimum}, found {value}")
        if value > maximum:
            raise argparse.ArgumentTypeError(
                f"expected {what} <= {maximum:,}, found {value:,}"
                + (" (runs are limited so that results fit in memory)" if what == "runs" else "")
            )
        return value

    return parse


_positive_int = _whole_number(1, "a number")
_runs = _whole_number(1, "runs")
_seed = _whole_number(0, "a seed", 2**63 - 1)
_workers = _whole_number(1, "workers", 1024)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="escalation-sim",
        description="Monte Carlo simulator of tit-for-tat diplomatic expulsions.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario's Monte Carlo ensemble and summarise it")
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--runs", type=_runs, help="number of runs (default: the scenario's)")
    run.add_argument("--seed", type=_seed, help="random seed (default: the scenario's)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario value by dotted path, e.g. states.us.policy.ratio=1.2",
    )
    _add_whatif_arguments(run)
    run.add_argument(
        "--out",
        metavar="DIR",
        help="write summary, per-run table, trajectories and the event record",
    )
    run.add_argument("--force", action="store_true", help="allow writing into a non-empty DIR")
    run.add_argument(
        "--csv",
        action="store_true",
        help="with --out: also write runs.csv, the per-run table of runs.parquet as CSV",
    )
    run.add_argument(
        "--no-trajectories",
        action="store_true",
        help="with --out: do not keep or write trajectories.npz (saves runs x steps x "
        "missions x 4 bytes of memory)",
    )
    run.add_argument(
        "--no-events",
        action="store_true",
        help="with --out: do not keep or write the event record events.parquet (about "
        "120 bytes per measure or move of every run); `sim story` then has nothing to tell",
    )
    run.add_argument(
        "--no-whatif",
        action="store_true",
        help='skip the paired what-if of each offer made in the forecast ("why" section): '
        "it reruns the ensemble once per offer, on the same runs",
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    run.add_argument("--quiet", action="store_true", help="no progress bar, no table")
    run.add_argument("--plot", action="store_true", help="also draw the figures into --out DIR")
    run.add_argument("--svg", action="store_true", help="with --plot: SVG as well as PNG")
    run.add_argument(
        "--block-size",
        type=_positive_int,
        default=DEFAULT_BLOCK_SIZE,
        help=f"runs stepped together in one model (default {DEFAULT_BLOCK_SIZE})",
    )

    val = sub.add_parser("validate", help="check a scenario file and report what it holds")
    val.add_argument("scenario")
    val.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    _add_whatif_arguments(val)

    sweep = sub.add_parser(
        "sweep",
        help="run an ensemble at every point of a parameter design",
        description="Sweep parameters by dotted path. SPEC: START:STOP:COUNT, a list "
        "a,b,c (also of words), or a range LOW..HIGH (for lhs and sobol). The file may "
        "hold a [sweep] table with the same settings; flags override it.",
    )
    sweep.add_argument("scenario", help="scenario TOML file (may contain a [sweep] table)")
    sweep.add_argument("--param", dest="params", action="append", default=[], metavar="PATH=SPEC")
    sweep.add_argument("--design", choices=("grid", "lhs", "sobol"))
    sweep.add_argument(
        "--samples", type=_positive_int, help="points for lhs; base samples for sobol"
    )
    sweep.add_argument("--runs", type=_runs, help="runs per point (default 1000)")
    sweep.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    sweep.add_argument("--workers", type=_workers, help="local processes (default: cores)")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    _add_whatif_arguments(sweep)
    sweep.add_argument("--out", metavar="DIR", help="write points, plots and manifest here")
    sweep.add_argument("--resume", action="store_true", help="compute only the missing points")
    sweep.add_argument("--force", action="store_true", help="allow writing into a non-empty DIR")
    sweep.add_argument("--csv", action="store_true", help="also write points.csv")
    sweep.add_argument("--json", action="store_true", help="print the points as JSON")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar, no table")

    plot = sub.add_parser("plot", help="draw the figures of results written by run or sweep")
    plot.add_argument("directory", help="a directory written by run --out or sweep --out")
    plot.add_argument("--svg", action="store_true", help="SVG as well as PNG")

    story = sub.add_parser(
        "story",
        help="tell one run of saved results as a dated story: who did what, why, the outcome",
        description="Print one run of results written by run --out DIR as a dated narrative: "
        "every measure and conciliatory move with its cause, fate and the staff it removed, "
        "and why the run's outcome was judged so.",
    )
    story.add_argument("directory", help="a directory written by run --out")
    story.add_argument(
        "--run",
        required=True,
        metavar="N|OUTCOME",
        help="a run index, or an outcome (spiral, de_escalation, relapse, unresolved, or a "
        "plugin's) for its typical run: the run whose outcome step is the median among the "
        "runs of that outcome (the lower median if their number is even), ties to the lowest "
        "run index; for unresolved (no outcome step), the lowest run index",
    )
    story.add_argument(
        "--history", action="store_true", help="also show the acts before the forecast start"
    )

    explore = sub.add_parser(
        "explore",
        help="a live explorer in the browser: move a lever, see the odds move",
        description="Serve a local web page (Solara) where every policy parameter, event "
        "and what-if of SCENARIO is a control, and the outcome probabilities, their paired "
        "difference from the scenario as written, the outcomes over time and the staff fan "
        "chart follow. Binds 127.0.0.1 unless --host says otherwise; open the printed "
        "address in a browser. Works offline.",
    )
    explore.add_argument("scenario", help="scenario TOML file")
    explore.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1: this machine only)",
    )
    explore.add_argument("--port", type=_port, default=8765, help="port (default 8765)")
    explore.add_argument("--runs", type=_runs, help="runs at the start (default: the scenario's)")
    explore.add_argument("--seed", type=_seed, help="seed at the start (default: the scenario's)")

    comp = sub.add_parser(
        "compare",
        help="outcome probabilities of saved results side by side, with differences from the first",
        description="Compare results written by run --out DIR: each outcome's probability "
        "with its 95% interval, and its change from the first directory (the baseline) "
        "with a 95% interval: paired (from the run-by-run differences) where the two share "
        "their seed and runs, from the two Wilson intervals where they are independent, and "
        "none where they share only some runs.",
    )
    comp.add_argument(
        "directories",
        nargs="+",
        metavar="DIR",
        help="directories written by run --out; the first is the baseline",
    )
    comp.add_argument(
        "--label",
        dest="labels",
        action="append",
        metavar="LABEL",
        help="name the directories, in order, once per directory (default: their names)",
    )
    comp.add_argument("--out", metavar="DIR", help="write comparison.csv and comparison.json here")
    comp.add_argument("--force", action="store_true", help="allow writing into a non-empty DIR")
    comp.add_argument(
        "--plot",
        action="store_true",
        help="also draw the changes with their intervals into --out DIR (paired_differences.png)",
    )
    comp.add_argument("--svg", action="store_true", help="with --plot: SVG as well as PNG")
    comp.add_argument("--json", action="store_true", help="print the comparison as JSON")

    cal = sub.add_parser(
        "calibrate",
        help="estimate the states' policy parameters from the event record (ABC-SMC)",
        description="Fit each state's response probability, ratio, lag, choice of instrument "
        "and rate of initiatives (or, with --policy, the parameters of another policy that "
        "declare a prior) to the scenario's dated events up to --until, by "
        "approximate Bayesian computation with a sequential Monte Carlo sampler "
        "(docs/calibration.md).",
    )
    cal.add_argument(
        "scenario",
        help="scenario TOML file with the historical events, or a dyad set "
        "(scenarios/backtest/russia_dyads.toml): one state across several counterparts",
    )
    cal.add_argument(
        "--params",
        metavar="A,B",
        help="parameters to calibrate (default: every one with a prior that is not opt-in; "
        "name choice_<instrument>, restraint_floor or saturation to fit a mechanism)",
    )
    cal.add_argument(
        "--pooling",
        choices=("partial", "pooled", "none"),
        default="partial",
        help="with a dyad set: how the dyads share the state's parameters (default: partial)",
    )
    cal.add_argument(
        "--workers",
        type=_whole_number(1, "workers", 256),
        default=1,
        help="with a dyad set: processes fitting dyads in parallel (partial, none)",
    )
    cal.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with a dyad set: fit the dyads on this Dask scheduler (tcp://host:8786)",
    )
    cal.add_argument(
        "--until", type=_date, metavar="YYYY-MM-DD", help="use the events up to this date"
    )
    cal.add_argument("--states", metavar="A,B", help="states to calibrate (default: every state)")
    cal.add_argument("--particles", type=_whole_number(50, "particles", 100_000), default=1000)
    cal.add_argument("--generations", type=_whole_number(1, "generations", 50), default=10)
    cal.add_argument(
        "--policy",
        default="proportional",
        metavar="KIND",
        help="the policy to fit (default: proportional): its parameters that declare a prior "
        "are calibrated (docs/calibration.md)",
    )
    cal.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="do not calibrate NAME; use VALUE (e.g. lag=1)",
    )
    cal.add_argument(
        "--prior",
        action="append",
        default=[],
        metavar="NAME=LOW:HIGH",
        help="uniform prior range of NAME (ratio: on the log scale; lag: whole steps)",
    )
    cal.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    cal.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    cal.add_argument("--out", metavar="DIR", help="write posterior, table, check figure here")
    cal.add_argument("--force", action="store_true", help="allow overwriting DIR / FILE")
    cal.add_argument(
        "--write-scenario",
        metavar="FILE",
        help="write the scenario with the fitted distributions, forecast from --until",
    )
    cal.add_argument("--json", action="store_true", help="print the report as JSON")
    cal.add_argument("--quiet", action="store_true", help="print nothing but errors")

    back = sub.add_parser(
        "backtest",
        help="calibrate up to each cut-off, forecast what came next, score it",
        description="For each window of a questions file: calibrate on the record up to the "
        "cut-off, run the fitted scenario over the window, answer each binary question in "
        "every run and score the model's probabilities (Brier and log scores) against the "
        "file's naive baseline (docs/validation.md).",
    )
    back.add_argument(
        "questions",
        nargs="?",
        default="scenarios/backtest/questions.toml",
        help="questions file (default: scenarios/backtest/questions.toml)",
    )
    back.add_argument(
        "--runs", type=_runs, help="runs per window (10000; a frozen file sets its own)"
    )
    back.add_argument(
        "--particles",
        type=_whole_number(50, "particles", 100_000),
        help="particles (1000; a frozen file sets its own)",
    )
    back.add_argument("--seed", type=_seed, help="seed (20210101; a frozen file sets its own)")
    back.add_argument("--out", metavar="DIR", help="write scores, answers, fitted scenarios")
    back.add_argument("--force", action="store_true", help="allow writing into a non-empty DIR")
    back.add_argument("--json", action="store_true", help="print the scores as JSON")
    back.add_argument("--quiet", action="store_true", help="print nothing but errors")

    disc = sub.add_parser(
        "discover",
        help="which parameter values lead to an outcome: PRIM boxes (and CART) in saved results",
        description="Scenario discovery on results written by run --out (of a scenario "
        "with drawn parameters), sweep --out or robust --out: PRIM's peeling trajectory "
        "(coverage against density), the chosen box with each restriction's quasi-p-value, "
        "how often each parameter is restricted on random halves of the data, and CART's "
        "leaves. Writes report.txt, boxes.json, tradeoff.png and box_pairs.png.",
    )
    disc.add_argument("directory", help="a directory written by run, sweep or robust --out")
    disc.add_argument(
        "--outcome", default="spiral", help="the outcome to describe (default spiral)"
    )
    disc.add_argument(
        "--out",
        metavar="DIR",
        help="write the report and figures here (default DIR/discover-OUTCOME)",
    )
    disc.add_argument("--force", action="store_true", help="allow writing into a non-empty DIR")
    disc.add_argument(
        "--box",
        type=_whole_number(0, "a box number", 10_000),
        help="the box on the trajectory to report (default: most cases of interest beyond chance)",
    )
    disc.add_argument(
        "--peel-alpha", type=float, default=0.05, help="share peeled per step (default 0.05)"
    )
    disc.add_argument(
        "--mass-min", type=float, default=0.05, help="smallest box, share of runs (default 0.05)"
    )
    disc.add_argument(
        "--max-p",
        type=float,
        default=0.05,
        help="drop restrictions whose quasi-p-value is above this (default 0.05)",
    )
    disc.add_argument(
        "--resamples",
        type=_whole_number(0, "resamples", 10_000),
        default=20,
        help="random halves for the resampling check (default 20)",
    )
    disc.add_argument("--seed", type=_seed, default=0, help="seed of the resampling (default 0)")
    disc.add_argument("--json", action="store_true", help="print boxes.json instead of the report")

    rob = sub.add_parser(
        "robust",
        help="policy levers against the same uncertain worlds: P, worst decile, regret",
        description="Run every combination of lever values (PATH=SPEC, SPEC a list a,b,c or "
        "a grid START:STOP:COUNT) against the same worlds (draws of the scenario's "
        "uncertain parameters), with the same runs in each world (common random numbers), "
        "and report per policy P(spiral) and P(de-escalation) with intervals, the worst "
        "decile of worlds, regret against the best policy in each world, and paired "
        "differences from the reference policy (the scenario's own lever values).",
    )
    rob.add_argument("scenario", help="scenario TOML file with parameters written as distributions")
    rob.add_argument(
        "--lever", dest="levers", action="append", default=[], metavar="PATH=SPEC", required=True
    )
    rob.add_argument("--worlds", type=_positive_int, default=200, help="worlds (default 200)")
    rob.add_argument(
        "--runs-per-world", type=_runs, default=50, help="runs in each world (default 50)"
    )
    rob.add_argument("--seed", type=_seed, help="seed (default: the scenario's)")
    rob.add_argument(
        "--reference",
        type=_whole_number(0, "a policy number", 10_000),
        help="the policy differences are taken from (default: the scenario's own values)",
    )
    rob.add_argument("--workers", type=_workers, help="local processes (default: cores)")
    rob.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, tcp://HOST:PORT")
    rob.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE")
    rob.add_argument(
        "--out", metavar="DIR", help="write policies, tables, figure and manifest here"
    )
    rob.add_argument("--resume", action="store_true", help="compute only the missing policies")
    rob.add_argument("--force", action="store_true", help="allow writing into a non-empty DIR")
    rob.add_argument("--json", action="store_true", help="print the table as JSON")
    rob.add_argument("--quiet", action="store_true", help="no progress bar, no table")

    pol = sub.add_parser("policies", help="list the policies with their parameters")
    for command in (run, val, sweep, pol, cal, back, plot, story, comp, explore, disc, rob):
        command.add_argument(
            "--plugin",
            dest="plugins",
            action="append",
            default=[],
            metavar="MODULE",
            help="import MODULE (on the Python path) and register the policies, instruments "
            "and outcome classes it defines",
        )
    for command in (run, val, sweep, rob, explore, cal, back):  # the commands reading scenarios
        command.add_argument(
            "--allow-files-outside",
            action="store_true",
            help="let a scenario's events_file lie outside the scenario file's folder "
            "(refused by default; docs/scenario-format.md, section 6.1)",
        )
    return parser


def _add_whatif_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--event",
        dest="events",
        action="append",
        default=[],
        metavar="KEY=VALUE,...",
        help="add a dated what-if event (repeatable), e.g. "
        "date=2021-12-08,actor=us,target=russia,kind=cancel; keys and values as in "
        "[[events]] (docs/scenario-format.md, section 6.2)",
    )
    command.add_argument(
        "--drop-event",
        dest="drop_events",
        action="append",
        type=_event_index,
        default=[],
        metavar="N",
        help="leave out the scenario's event number N (repeatable; `validate` numbers them), "
        "before any --event is added",
    )
    command.add_argument(
        "--take-offer",
        metavar="STATE",
        help="STATE accepts the conditional offer made toward it: it cancels its own "
        "pending measures against the offerer in the first step after the offer",
    )


def _event_index(text: str) -> int:
    """An argparse type: an event's number in the scenario, 0 or more."""
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if value < 0:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise argparse.ArgumentTypeError(f"expected an event number 0, 1, ..., found {shown!r}")
    return value


def _with_whatifs(scenario: Scenario, args: argparse.Namespace) -> Scenario:
    """The scenario without the --drop-event events, then with the --event and
    --take-offer events added (after --set)."""
    if getattr(args, "drop_events", None):
        try:
            scenario = scenario.without_events(args.drop_events, cli=True)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    specs = args.events
    if not specs and args.take_offer is None:
        return scenario
    labels = ["--event" if len(specs) == 1 else f"--event {i + 1}" for i in range(len(specs))]
    events = []
    for label, text in zip(labels, specs, strict=True):
        try:
            events.append(parse_event_spec(text))
        except ValueError as exc:
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise UsageError(f"{label} {shown!r}: {exc}") from None
    return scenario.with_events(
        events,
        take_offer=args.take_offer,
        labels=labels,
        offer_label=f"--take-offer {args.take_offer}",
        cli=True,
    )


def _print_warnings(scenario: Scenario) -> None:
    for warning in forecast_warnings(scenario):
        print(f"warning: {scenario.source}: {warning}", file=sys.stderr)


def _date(text: str) -> dt.date:
    """An argparse type: a calendar date YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, found {shown!r}") from None


def _overrides(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        try:
            path, value = parse_override(item)
        except ValueError as exc:
            raise UsageError(f"--set: {exc}") from None
        out[path] = value
    return out


def _on_sigint(signum, frame) -> None:
    request_stop()
    raise KeyboardInterrupt


def _on_sigterm(signum, frame) -> None:
    # Handled as Ctrl-C is (staged output removed, a sweep's manifest marked
    # "interrupted", its workers stopped), then exit 143 = 128 + SIGTERM.
    request_stop(terminate=True)
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    previous = {}
    allow_outside = events_file_module.ALLOW_FILES_OUTSIDE  # --allow-files-outside sets it
    if threading.current_thread() is threading.main_thread():
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _on_sigint)
        previous[signal.SIGTERM] = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _stop.clear()
        _terminated.clear()
        events_file_module.ALLOW_FILES_OUTSIDE = allow_outside


def _main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "allow_files_outside", False):
            events_file_module.ALLOW_FILES_OUTSIDE = True  # for this command (main resets it)
        if args.command in (
            "run",
            "validate",
            "sweep",
            "policies",
            "calibrate",
            "backtest",
            "story",
            "plot",
            "compare",
            "explore",
            "discover",
            "robust",
        ):
            load_entry_point_policies()
            for module in args.plugins:
                load_plugin_module(module)
        if args.command == "run":
            return _cmd_run(args, argv)
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "sweep":
            return _cmd_sweep(args, argv)
        if args.command == "plot":
            return _cmd_plot(args)
        if args.command == "story":
            return _cmd_story(args)
        if args.command == "explore":
            return _cmd_explore(args)
        if args.command == "compare":
            return _cmd_compare(args, argv)
        if args.command == "discover":
            return _cmd_discover(args)
        if args.command == "robust":
            return _cmd_robust(args, argv)
        if args.command == "calibrate":
            return _cmd_calibrate(args, argv)
        if args.command == "backtest":
            return _cmd_backtest(args, argv)
        return _cmd_policies()
    except (UsageError, SweepError, DiscoveryError) as exc:
        print(f"escalation-sim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ScenarioError as exc:
        print(f"escalation-sim: invalid scenario\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OutputError, ResourceError, PluginError) as exc:
        print(f"escalation-sim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("escalation-sim: terminated (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("escalation-sim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`... | head`): not an error of ours. Point stdout at
        # devnull so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except SystemExit as exc:  # argparse's --help
        return int(exc.code or 0)
    except Exception as exc:
        if os.environ.get("SIM_DEBUG"):
            raise
        print(
            f"escalation-sim: internal error: {type(exc).__name__}: {exc}\n"
            "(set SIM_DEBUG=1 to see the traceback, and please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    scenario = _with_whatifs(load_scenario(args.scenario, _overrides(args.overrides)), args)
    if args.plot and not args.out:
        raise UsageError("--plot needs --out DIR (the figures are written there)")
    if args.csv and not args.out:
        raise UsageError("--csv needs --out DIR (runs.csv is written there)")
    keep = args.out is not None and not args.no_trajectories
    keep_events = args.out is not None and not args.no_events
    runs = scenario.runs if args.runs is None else args.runs
    # Refuse a run that would not fit in memory before anything is made or written.
    resources.check(
        scenario,
        runs,
        args.block_size,
        keep_trajectories=keep,
        keep_events=keep_events,
        writing=args.out is not None,
    )
    command = ["escalation-sim", *argv]
    _print_warnings(scenario)
    with staged_output(args.out, args.force, command) if args.out else nullcontext() as staging:
        result = api.run(
            scenario,
            runs=runs,
            seed=args.seed,
            block_size=args.block_size,
            keep_trajectories=keep,
            keep_events=keep_events,
            progress=not args.quiet and sys.stderr.isatty(),
        )
        summary = result.summary()
        if not args.no_whatif:
            # What taking each forecast offer changes, paired over the same runs.
            summary["why"]["offer_whatif"] = api.offer_whatif(result)
        if staging is not None:
            write_results(result.ensemble, staging, summary, command)
            if args.csv:
                _write_runs_csv(result, staging)
            if args.plot:
                result.plot_all(staging, svg=args.svg)
    out = args.out
    if args.json:
        print(json.dumps(summary, indent=2))
    elif not args.quiet:
        print(format_summary(result.ensemble, summary))
        if out is not None:
            print(f"\nResults written to {out}/")
    return EXIT_OK


def _cmd_plot(args: argparse.Namespace) -> int:
    # A directory that is not complete results, or is damaged: a ResultsError, exit 2.
    loaded = api.load_results(args.directory)
    if isinstance(loaded, api.Result):
        written = loaded.plot_all(args.directory, svg=args.svg)
    elif isinstance(loaded, RobustResult):
        from sim.plots import save_figure

        name = "robust.svg" if args.svg else "robust.png"
        written = save_figure(loaded.plot(), Path(args.directory) / name)
    else:
        written = _plot_sweep(loaded, args.directory, args.svg)
    for path in written:
        print(path)
    return EXIT_OK


def _port(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port 1-65535, found {text[:20]!r}")
    return value


def _cmd_explore(args: argparse.Namespace) -> int:
    try:
        from sim.explore import serve
    except ImportError as exc:  # solara is a dependency; a broken install says so here
        raise UsageError(f"the explorer needs solara: {exc}") from None
    load_scenario(args.scenario)  # a bad file: exit 2 with the scenario's problems
    import socket

    try:  # a taken port or an unknown host is a message here, not uvicorn's exit later
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as exc:
        raise UsageError(
            f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}"
        ) from None
    where = f"http://{args.host}:{args.port}/"
    print(f"escalation-sim explorer of {args.scenario}: open {where} (Ctrl-C stops it)", flush=True)
    try:
        serve(args.scenario, args.host, args.port, runs=args.runs, seed=args.seed)
    except OSError as exc:
        raise UsageError(f"cannot serve on {args.host}:{args.port}: {exc}") from None
    return EXIT_OK


def _cmd_discover(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    if not (directory / "manifest.json").is_file():
        raise UsageError(
            f"{directory}: no manifest.json; not a directory written by run, sweep or robust"
        )
    source = api.load_results(directory)  # refuses incomplete results, says what to do
    found = discover(
        source,
        args.outcome,
        peel_alpha=args.peel_alpha,
        mass_min=args.mass_min,
        max_p=args.max_p,
        box=args.box,
        resamples=args.resamples,
        seed=args.seed,
    )
    out = Path(args.out) if args.out else directory / f"discover-{args.outcome}"
    found.save(out, force=args.force)
    if args.json:
        print(json.dumps(found.to_json(), indent=2))
    else:
        print(found.report())
        print(f"\nReport, boxes.json and figures written to {out}/")
    return EXIT_OK


def _cmd_robust(args: argparse.Namespace, argv: list[str]) -> int:
    scenario = api.load_scenario(args.scenario, _overrides(args.overrides) or None)
    levers = [parse_lever(text) for text in args.levers]
    result = run_robust(
        scenario,
        levers,
        worlds=args.worlds,
        runs_per_world=args.runs_per_world,
        seed=args.seed,
        reference=args.reference,
        workers=args.workers or os.cpu_count() or 1,
        scheduler=args.scheduler,
        out=args.out,
        resume=args.resume,
        force=args.force,
        progress=not args.quiet and sys.stderr.isatty(),
        command=["escalation-sim", *argv],
    )
    if args.json:
        print(result.table().to_json(orient="records", indent=2))
    elif not args.quiet:
        print(result.report())
        if args.out:
            print(f"\nResults written to {args.out}/")
    if result.failed:
        print(
            f"escalation-sim: {len(result.failed)} policy(ies) failed; see report.txt",
            file=sys.stderr,
        )
        return EXIT_POINTS_FAILED
    return EXIT_OK


def _cmd_story(args: argparse.Namespace) -> int:
    from sim.analysis import story

    try:
        choice = story.parse_run_choice(args.run)
        text = story.story_from_directory(args.directory, choice, history=args.history)
    except story.StoryError as exc:
        raise UsageError(str(exc)) from None
    print(text)
    return EXIT_OK


def _write_runs_csv(result: api.Result, staging: Path) -> None:
    """runs.csv beside runs.parquet (the same table), and listed in the manifest."""
    table = result.runs
    atomic_write(staging / "runs.csv", lambda h: h.write(table.to_csv(index=False).encode()))
    manifest = json.loads((staging / "manifest.json").read_text())
    files = manifest.get("files", [])
    manifest["files"] = [*(f for f in files if f != "manifest.json"), "runs.csv", "manifest.json"]
    text = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    atomic_write(staging / "manifest.json", lambda h: h.write(text))


def _cmd_compare(args: argparse.Namespace, argv: list[str]) -> int:
    from sim.analysis.compare import CompareError

    if len(args.directories) < 2:
        raise UsageError(
            f"compare needs at least two result directories, found {len(args.directories)}"
        )
    if args.plot and not args.out:
        raise UsageError("--plot needs --out DIR (the figure is written there)")
    try:
        comparison = api.compare_results(args.directories, labels=args.labels)
    except CompareError as exc:
        raise UsageError(str(exc)) from None
    if args.out:
        import matplotlib.pyplot as plt

        from sim import plots

        command = ["escalation-sim", *argv]
        with staged_output(args.out, args.force, command) as staging:
            table = comparison.table
            atomic_write(
                staging / "comparison.csv", lambda h: h.write(table.to_csv(index=False).encode())
            )
            record = {
                **comparison.to_dict(),
                "directories": list(args.directories),
                "command": command,
            }
            text = (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode()
            atomic_write(staging / "comparison.json", lambda h: h.write(text))
            if args.plot:
                fig = plots.plot_paired_differences(comparison)
                plots.save_figure(
                    fig, staging / f"paired_differences.{'svg' if args.svg else 'png'}"
                )
                plt.close(fig)
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(comparison.format())
        if args.out:
            print(f"\nResults written to {args.out}/")
    return EXIT_OK


def _plot_sweep(result, directory: str, svg: bool) -> list:
    import matplotlib.pyplot as plt

    from sim import plots

    suffix = "svg" if svg else "png"
    figures = []
    if result.spec.design == "grid" and len(result.spec.params) == 2:
        figures.append(("sweep_heatmap_spiral", result.plot_heatmap()))
    elif len(result.spec.params) == 1:
        figures.append(("sweep_curve", result.plot_curve()))
    if result.sensitivity is not None:
        figures.append(("sensitivity", result.plot_sensitivity()))
    written = []
    for name, fig in figures:
        written += plots.save_figure(fig, Path(directory) / f"{name}.{suffix}")
        plt.close(fig)
    return written


def _sweep_setting(args: argparse.Namespace, table: dict, key: str, kind: type, default):
    value = getattr(args, key)
    if value is not None:
        return value
    if key in table:
        found = table[key]
        if not isinstance(found, kind) or isinstance(found, bool):
            raise SweepError(f"sweep.{key}: expected {kind.__name__}, found {found!r}")
        return found
    return default


def _cmd_sweep(args: argparse.Namespace, argv: list[str]) -> int:
    raw, source, table = load_sweep_file(args.scenario)
    overrides = _overrides(args.overrides)
    if overrides:
        raw = apply_overrides(raw, overrides, source)
    scenario = _with_whatifs(scenario_from_dict(raw, source, overrides), args)
    if args.params:
        params = [parse_param(text) for text in args.params]
    else:
        given = table.get("params", {})
        if not isinstance(given, dict):
            raise SweepError("sweep.params: expected a table of PATH = SPEC")
        params = [parse_spec(path, spec) for path, spec in given.items()]
    spec = SweepSpec(
        params=params,
        design=_sweep_setting(args, table, "design", str, "grid"),
        samples=_sweep_setting(args, table, "samples", int, None),
        runs=_sweep_setting(args, table, "runs", int, 1000),
        seed=_sweep_setting(args, table, "seed", int, scenario.seed),
    )
    if not 1 <= spec.runs <= MAX_RUNS or not 0 <= spec.seed < 2**63:
        raise SweepError(f"sweep: runs must be 1 to {MAX_RUNS:,} and seed 0 to 2**63 - 1")
    workers = _sweep_setting(args, table, "workers", int, os.cpu_count() or 1)
    if not 1 <= workers <= 1024:
        raise SweepError(f"sweep.workers: expected 1 to 1,024, found {workers}")
    scheduler = _sweep_setting(args, table, "scheduler", str, None)
    result = run_sweep(
        scenario,
        spec,
        workers=max(1, workers),
        scheduler=scheduler,
        out=args.out,
        resume=args.resume,
        force=args.force,
        csv=args.csv,
        progress=not args.quiet and sys.stderr.isatty(),
        command=["escalation-sim", *argv],
    )
    if args.json:
        print(result.points.to_json(orient="records", indent=2))
    elif not args.quiet:
        print(format_sweep(result, scenario))
        if args.out:
            print(f"\nResults written to {args.out}/")
    if result.failed:
        print(
            f"escalation-sim: {result.failed} point(s) failed; see the status and error columns",
            file=sys.stderr,
        )
        return EXIT_POINTS_FAILED
    return EXIT_OK


def format_sweep(result, scenario: Scenario, limit: int = 40) -> str:
    spec = result.spec
    table = result.points
    paths = [p.path for p in spec.params]
    lines = [
        f"escalation-sim sweep · {scenario.name} ({scenario.source})",
        f"{len(table):,} points ({spec.design}) x {spec.runs:,} runs, seed {spec.seed}, "
        "same runs at every point (common random numbers)",
        "",
    ]
    # Each swept parameter under its full dotted path (what --param and --set take).
    param_widths = [max(len(p), 8) + 2 for p in paths]
    header = "".join(f"{p:>{w}}" for p, w in zip(paths, param_widths, strict=True))
    paired = "paired_diff_spiral" in table.columns
    extra = f"{'change in P(spiral) [95% CI]':>34}" if paired else ""
    # P(spiral) with its interval, then each other class of the sweep's own outcomes.
    others = sorted(
        (c for c in display_order(result.outcome_names) if c.name not in ("spiral", "unresolved")),
        key=lambda c: -c.precedence,
    )
    widths = [max(12, len(c.label) + 5) for c in others]
    others_header = "".join(
        f"{'P(' + c.label + ')':>{w}}" for c, w in zip(others, widths, strict=True)
    )
    lines.append(f"{'point':>6}{header}   {'P(spiral) [95% CI]':<24}{others_header}{extra}")
    for row in table.head(limit).to_dict("records"):
        values = "".join(f"{_cell(row[p]):>{w}}" for p, w in zip(paths, param_widths, strict=True))
        if row["status"] == "ok":
            # percentages and percentage points, as `run` prints them
            spiral = (
                f"{_pct(row['p_spiral'])} [{100 * row['ci95_low_spiral']:4.1f}, "
                f"{100 * row['ci95_high_spiral']:4.1f}]%"
            )
            change = ""
            if paired and not math.isnan(row["paired_diff_spiral"]):
                change = (
                    f"{100 * row['paired_diff_spiral']:+5.1f} points "
                    f"[{100 * row['paired_ci95_low_spiral']:+.1f}, "
                    f"{100 * row['paired_ci95_high_spiral']:+.1f}]"
                )
            cells = "".join(
                f"{_pct(row['p_' + c.name]):>{w}}" for c, w in zip(others, widths, strict=True)
            )
            change = f"{change:>34}" if paired else ""
            lines.append(f"{row['point']:>6}{values}   {spiral:<24}{cells}{change}")
        else:
            lines.append(f"{row['point']:>6}{values}   failed: {row['error']}")
    if paired:
        lines.append("(change: paired difference from the previous point over the same runs)")
    if len(table) > limit:
        lines.append(f"... {len(table) - limit:,} more points (see --out or --json)")
    if result.sensitivity:
        lines.append("\nSobol indices of P(spiral): first-order S1 and total ST (95% conf.)")
        si = result.sensitivity.get("spiral") or next(iter(result.sensitivity.values()))
        for i, name in enumerate(si["names"]):
            lines.append(
                f"  {name:<40} S1 {si['S1'][i]:6.3f} ± {si['S1_conf'][i]:.3f}   "
                f"ST {si['ST'][i]:6.3f} ± {si['ST_conf'][i]:.3f}"
            )
    lines.append(f"\nwall time {result.wall_time:.1f} s")
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cmd_calibrate(args: argparse.Namespace, argv: list[str]) -> int:
    from sim import plots
    from sim.analysis import calibrate as cal_mod

    if _is_dyad_set(args.scenario):
        return _cmd_calibrate_across(args, argv)
    scenario = load_scenario(args.scenario, _overrides(args.overrides))
    states = [s.strip() for s in args.states.split(",")] if args.states else None
    target = Path(args.write_scenario) if args.write_scenario else None
    if target is not None and target.exists() and not args.force:
        raise UsageError(f"--write-scenario {target}: exists; use --force to replace it")
    settings = cal_mod.SMCSettings(particles=args.particles, generations=args.generations)
    fixed = dict(_calibration_value(text, args.policy) for text in args.fix)
    priors = dict(_calibration_prior(text, args.policy) for text in args.prior)
    command = ["escalation-sim", *argv]
    try:
        with staged_output(args.out, args.force, command) if args.out else nullcontext() as staging:
            cal = cal_mod.calibrate(
                scenario,
                until=args.until,
                states=states,
                settings=settings,
                seed=args.seed,
                fixed=fixed,
                priors=priors,
                policy=args.policy,
                params=_param_list(args.params),
            )
            checks = cal_mod.predictive_checks(cal) if staging is not None else None
            report = cal_mod.report(cal, checks)
            report["command"] = command
            if staging is not None:
                _write_calibration(cal, report, checks, staging, plots)
            if target is not None:
                text = cal_mod.fitted_toml(cal)
                atomic_write(target, lambda h: h.write(text.encode()))
    except cal_mod.CalibrationError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(report, indent=2))
    elif not args.quiet:
        print(_format_calibration(cal, report))
        if args.out:
            print(f"\nResults written to {args.out}/")
        if target is not None:
            print(f"Fitted scenario written to {target}")
    return EXIT_OK


def _param_list(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def _is_dyad_set(path: str) -> bool:
    """A dyad set has ``[[records]]`` and no ``[scenario]`` table."""
    import tomllib

    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return "records" in raw and "scenario" not in raw


def _cmd_calibrate_across(args: argparse.Namespace, argv: list[str]) -> int:
    """One state's policy across the dyads of a dyad set (docs/calibration.md)."""
    from sim.analysis import calibrate as cal_mod
    from sim.analysis import pooling

    if args.write_scenario or args.overrides:
        raise UsageError("--write-scenario and --set apply to one scenario, not a dyad set")
    settings = cal_mod.SMCSettings(particles=args.particles, generations=args.generations)
    fixed = dict(_calibration_value(text, args.policy) for text in args.fix)
    priors = dict(_calibration_prior(text, args.policy) for text in args.prior)
    command = ["escalation-sim", *argv]
    try:
        dyad_set = pooling.load_dyad_set(args.scenario, args.states)
        until = args.until or max(d.scenario.end for d in dyad_set.dyads)
        with staged_output(args.out, args.force, command) if args.out else nullcontext() as staging:
            result = pooling.calibrate_across(
                dyad_set.dyads,
                until,
                pooling=args.pooling,
                params=_param_list(args.params),
                fixed=fixed,
                settings=settings,
                seed=0 if args.seed is None else args.seed,
                priors=priors,
                policy=args.policy,
                workers=args.workers,
                scheduler=args.scheduler,
            )
            table = result.table()
            report = pooling.report(result, command)
            if staging is not None:
                text = table.to_csv(index=False).encode()
                atomic_write(staging / "posterior.csv", lambda h: h.write(text))
                payload = json.dumps(report, indent=2, default=str).encode()
                atomic_write(staging / "calibration.json", lambda h: h.write(payload))
    except cal_mod.CalibrationError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    elif not args.quiet:
        print(pooling.format_table(result))
        if args.out:
            print(f"\nResults written to {args.out}/")
    return EXIT_OK


def _cmd_backtest(args: argparse.Namespace, argv: list[str]) -> int:
    from sim.analysis import backtest as bt_mod
    from sim.analysis import calibrate as cal_mod
    from sim.analysis import frozen

    if frozen.is_frozen(args.questions):
        return _cmd_frozen_backtest(args, argv)
    args.runs = 10_000 if args.runs is None else args.runs
    args.particles = 1000 if args.particles is None else args.particles
    args.seed = 20210101 if args.seed is None else args.seed
    settings = cal_mod.SMCSettings(particles=args.particles)
    command = ["escalation-sim", *argv]
    with staged_output(args.out, args.force, command) if args.out else nullcontext() as staging:
        result = bt_mod.run_backtest(
            args.questions, runs=args.runs, seed=args.seed, settings=settings
        )
        table, scores = result.table(), result.scores()
        report = {
            "questions_file": args.questions,
            "runs": result.runs,
            "seed": result.seed,
            "particles": args.particles,
            "scores": scores.to_dict(orient="records"),
            "questions": table.to_dict(orient="records"),
            "command": command,
        }
        if staging is not None:
            for name, frame in (("answers.csv", table), ("scores.csv", scores)):
                text = frame.to_csv(index=False).encode()
                atomic_write(staging / name, lambda h, t=text: h.write(t))
            payload = json.dumps(report, indent=2, default=str).encode()
            atomic_write(staging / "backtest.json", lambda h: h.write(payload))
            for w in result.windows:
                text = cal_mod.fitted_toml(w.calibration).encode()
                atomic_write(staging / f"fitted_{w.window.id}.toml", lambda h, t=text: h.write(t))
                posterior = w.calibration.table().to_csv(index=False).encode()
                atomic_write(
                    staging / f"posterior_{w.window.id}.csv", lambda h, t=posterior: h.write(t)
                )
    if args.json:
        print(json.dumps(report["scores"], indent=2))
    elif not args.quiet:
        print(_format_backtest(table, scores, result.runs))
        if args.out:
            print(f"\nResults written to {args.out}/")
    return EXIT_OK


def _cmd_frozen_backtest(args: argparse.Namespace, argv: list[str]) -> int:
    """A frozen questions file: its own settings; --runs/--particles/--seed override them
    (a different run, to be listed as such)."""
    from dataclasses import replace

    from sim.analysis import calibrate as cal_mod
    from sim.analysis import frozen

    try:
        spec = frozen.load_frozen(args.questions)
    except cal_mod.CalibrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    changes = {
        k: v
        for k, v in (("runs", args.runs), ("particles", args.particles), ("seed", args.seed))
        if v is not None
    }
    spec = replace(spec, **changes)
    command = ["escalation-sim", *argv]
    with staged_output(args.out, args.force, command) if args.out else nullcontext() as staging:
        result = frozen.run_frozen(spec)
        table = result.table
        by_window = result.scores(by=["window"])
        by_dyad = result.scores(by=["window", "dyad"])
        report = frozen.report(result, command)
        if staging is not None:
            for name, frame in (
                ("answers.csv", table),
                ("scores.csv", by_window),
                ("scores_by_dyad.csv", by_dyad),
                ("posterior.csv", frozen.posterior_table(result)),
            ):
                text = frame.to_csv(index=False).encode()
                atomic_write(staging / name, lambda h, t=text: h.write(t))
            payload = json.dumps(report, indent=2, default=str).encode()
            atomic_write(staging / "backtest.json", lambda h: h.write(payload))
    if args.json:
        print(json.dumps(report["scores"], indent=2, default=str))
    elif not args.quiet:
        print(frozen.format_scores(by_window, result))
        if args.out:
            print(f"\nResults written to {args.out}/")
    return EXIT_OK


def _format_backtest(table, scores, runs: int) -> str:
    lines = [f"{'question':<30}{'happened':>9}{'model':>8}{'baseline':>10}", ""]
    for row in table.itertuples():
        lines.append(
            f"{row.question:<30}{'yes' if row.outcome else 'no':>9}"
            f"{row.p_model:>8.3f}{row.p_baseline:>10.3f}"
        )
    lines += [
        "",
        f"mean scores ({runs:,} runs per window; lower is better)",
        f"{'window':<8}{'n':>3}{'Brier model':>13}{'baseline':>10}{'difference (SE)':>18}"
        f"{'log model':>11}{'baseline':>10}{'difference (SE)':>18}",
    ]
    for row in scores.itertuples():
        brier = f"{row.brier_diff:+.3f} ({row.brier_diff_se:.3f})"
        log = f"{row.log_diff:+.3f} ({row.log_diff_se:.3f})"
        lines.append(
            f"{row.window:<8}{row.questions:>3}{row.brier_model:>13.3f}{row.brier_baseline:>10.3f}"
            f"{brier:>18}{row.log_model:>11.3f}{row.log_baseline:>10.3f}{log:>18}"
        )
    return "\n".join(lines)


def _calibratable(policy: str) -> dict:
    from sim.analysis.calibrate import CalibrationError, calibratable

    try:
        return calibratable(policy)
    except CalibrationError as exc:
        raise UsageError(f"--policy {policy}: {exc}") from None


def _calibration_name(text: str, flag: str, policy: str = "proportional") -> tuple[str, str]:
    known = _calibratable(policy)
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or name not in known:
        raise UsageError(
            f"{flag} {text!r}: expected NAME=..., NAME one of {', '.join(known)} "
            f"(the parameters of {policy} with a prior)"
        )
    return name, value.strip()


def _calibration_value(text: str, policy: str = "proportional") -> tuple[str, float | int]:
    name, value = _calibration_name(text, "--fix", policy)
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"--fix {text!r}: expected a number after =") from None
    if _calibratable(policy)[name].scale == "floor":  # whole numbers: lag, int parameters
        if not number.is_integer():
            raise UsageError(
                f"--fix {text!r}: expected whole {'steps' if name == 'lag' else 'numbers'}"
            )
        return name, int(number)
    return name, number


def _calibration_prior(text: str, policy: str = "proportional") -> tuple[str, tuple[float, float]]:
    name, value = _calibration_name(text, "--prior", policy)
    low, _, high = value.partition(":")
    try:
        return name, (float(low), float(high))
    except ValueError:
        raise UsageError(f"--prior {text!r}: expected NAME=LOW:HIGH") from None


def _write_calibration(cal, report: dict, checks: dict, staging: Path, plots) -> None:
    samples = cal.samples()
    atomic_write(staging / "posterior.csv", lambda h: h.write(samples.to_csv(index=False).encode()))
    table = cal.table()
    atomic_write(
        staging / "posterior_summary.csv", lambda h: h.write(table.to_csv(index=False).encode())
    )
    payload = json.dumps(report, indent=2, default=str).encode()
    atomic_write(staging / "calibration.json", lambda h: h.write(payload))
    fig = plots.plot_posterior_predictive(checks, cal.window)
    plots.save_figure(fig, staging / "posterior_predictive.png")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _format_calibration(cal, report: dict) -> str:
    lines = [
        f"Calibration of {cal.scenario.name} on the events up to {cal.until} "
        f"(ABC-SMC, {cal.settings.particles} particles, seed {cal.seed})",
    ]
    for sid, entry in report["states"].items():
        rec = entry["record"]
        gens = entry["generations"]
        sims = sum(g["simulations"] for g in gens)
        lines.append("")
        lines.append(
            f"{sid} toward {entry['counterpart']}: {_count(rec['episodes'], 'act')} to "
            f"answer, {rec['answered']} answered, {_count(rec['initiatives'], 'initiative')} in "
            f"{rec['years']:.1f} years; {len(gens)} generations, {sims:,} simulations "
            f"(stopped: {entry['stopped']})"
        )
        lines.append(f"  {'parameter':<22}{'median':>9}{'50% interval':>20}{'90% interval':>20}")
        for row in entry["posterior"]:
            inner = f"[{row['q25']:.3g}, {row['q75']:.3g}]"
            outer = f"[{row['q05']:.3g}, {row['q95']:.3g}]"
            lines.append(f"  {row['parameter']:<22}{row['median']:>9.3g}{inner:>20}{outer:>20}")
    return "\n".join(lines)


def _cmd_validate(args: argparse.Namespace) -> int:
    scenario = _with_whatifs(load_scenario(args.scenario, _overrides(args.overrides)), args)
    print(describe_scenario(scenario))
    _print_warnings(scenario)
    return EXIT_OK


def _cmd_policies() -> int:
    print("Policies (kind = ...), with their own parameters:\n")
    for name, cls in POLICIES.items():
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"  {name}: {doc}")
        for key, param in cls.params.items():
            print(f"      {key} = {param.default!r}  ({param.describe()}) {param.doc}")
        print(f"      reciprocate default = {cls.default_reciprocate}")
    print("\nParameters common to every policy:\n")
    for key, param in COMMON_PARAMS.items():
        print(f"  {key} = {param.default!r}  ({param.describe()})\n      {param.doc}")
    # Two per hostile instrument (plugins' included): listed by name, explained once.
    choices = choice_params()
    shares = [key for key in choices if not key.endswith("_amount")]
    amounts = [key for key in choices if key.endswith("_amount")]
    print(
        "  choice_<instrument> = 0.0  (probability in [0, 1]; a policy's sum to at most 1)"
        "\n      probability that an answer to a perceived act goes through that instrument"
        " instead of the policy's own: " + ", ".join(shares)
    )
    print(
        "  choice_<instrument>_amount = -1.0  (number >= -1)"
        "\n      amount of that instrument when chosen: -1 sized by the answer, >= 0 its own"
        " amount (staff, level, posts or rate): " + ", ".join(amounts)
    )
    print(
        "\nA numeric parameter may also be a distribution drawn per run, e.g."
        '\n  ratio = { dist = "lognormal", median = 1.0, sigma = 0.2 }'
        "\n(uniform, normal, lognormal, beta, choice: docs/scenario-format.md, section 4.3)."
    )
    return EXIT_OK


# ---------------------------------------------------------------- formatting
def describe_scenario(sc: Scenario) -> str:
    lines = [
        f"{sc.source}: valid scenario {sc.name!r}",
        f"  {sc.start} to {sc.end}: {sc.n_steps} steps of {sc.step_days} days; "
        f"forecast from {sc.forecast_start} (step {sc.forecast_step})",
        f"  {sc.runs} runs by default, seed {sc.seed}",
        f"  states: {', '.join(sc.states)}",
    ]
    for sid, st in sc.states.items():
        kinds = sorted({v["kind"] for v in st.policies.values()})
        allies = (
            f"; allies {', '.join(st.allies)} (solidarity {st.solidarity})" if st.allies else ""
        )
        lines.append(f"    {sid} ({st.name}): {' / '.join(kinds)}{allies}")
    lines.append(f"  missions: {len(sc.missions)}")
    drawn = scenario_distributions(sc)
    for mid, m in sc.missions.items():
        varies = any(path.startswith(f"missions.{mid}.") for path in drawn)
        staff = f"up to {m.total} staff (drawn per run)" if varies else f"{m.total} staff"
        lines.append(f"    {mid}: {m.sender} in {m.host}, {staff}")
    before = sum(1 for ev in sc.events if ev.date < sc.forecast_start)
    lines.append(
        f"  events: {len(sc.events)} ({before} history before the forecast start, "
        f"{len(sc.events) - before} from it on)"
    )
    # Numbered as --drop-event takes them (positions in the document, what-ifs included).
    lines += [f"    {ev.index:>3}  {_event_line(ev, sc)}" for ev in sc.events]
    if drawn:
        lines.append(f"  drawn per run: {len(drawn)}")
        for path, dist in drawn.items():
            lines.append(f"    {path} ~ {dist.describe()}")
    if sc.overrides:
        lines.append("  overrides: " + ", ".join(f"{k}={v!r}" for k, v in sc.overrides.items()))
    if sc.added_events:
        lines.append(f"  what-if events: {len(sc.added_events)}")
        lines += [f"    {_describe_added(rec)}" for rec in sc.added_events]
    if sc.dropped_events:
        lines.append(f"  events left out: {len(sc.dropped_events)}")
        lines += [f"    {_describe_added(rec)}" for rec in sc.dropped_events]
    return "\n".join(lines)


def _event_line(ev, sc: Scenario) -> str:
    """A scenario event in a line: date, actor, instrument, amount, target, deadline."""
    from sim.engine import instruments

    kind = instruments.label(int(ev.kind))
    amount = "".join(
        f" {key} {getattr(ev, key)}"
        for key in ("size", "level", "rate")
        if getattr(ev, key) is not None
    )
    # The document's own deadline (the step it falls in is what the engine uses).
    raw = sc.raw.get("events", [])
    table = raw[ev.index] if isinstance(raw, list) and ev.index < len(raw) else {}
    deadline = str(table.get("deadline", "")) if isinstance(table, dict) else ""
    return f"{ev.date} {ev.actor} {kind}{amount} -> {ev.target} ({ev.mission})" + (
        f", due {deadline}" if deadline else ""
    )


def _describe_added(rec: dict) -> str:
    """One added event in a line: ``events.9 2021-12-08 us cancel -> russia (--take-offer us)``."""
    amount = "".join(
        f" {key} {rec[key]}" for key in ("size", "level", "rate", "lifts") if key in rec
    )
    deadline = f", due {rec['deadline']}" if "deadline" in rec else ""
    return (
        f"events.{rec['index']} {rec.get('date')} {rec.get('actor')} {rec.get('kind')}{amount} "
        f"-> {rec.get('target')}{deadline} ({rec.get('added_by') or rec.get('dropped_by')})"
    )


def _pct(p: float) -> str:
    return f"{100 * p:5.1f}%"


def format_summary(ens: Ensemble, s: dict) -> str:
    sc = ens.scenario
    lines = [
        f"escalation-sim · {sc.name} ({sc.source})",
        f"{s['runs']:,} runs · seed {s['seed']} · forecast {s['forecast_start']} to "
        f"{s['horizon_end']} · {sc.step_days}-day steps",
    ]
    if s["overrides"]:
        lines.append("overrides: " + ", ".join(f"{k}={v!r}" for k, v in s["overrides"].items()))
    for rec in s.get("events_added", []):
        lines.append(f"what-if: {_describe_added(rec)}")
    for rec in s.get("events_dropped", []):
        lines.append(f"left out: {_describe_added(rec)}")
    lines += ["", f"{'outcome':<15}{'P':>7}   {'95% CI':<16}{'runs':>8}   median weeks to it"]
    shown = display_order(ens.outcome_names)
    for cls in shown:
        o = s["outcomes"][cls.name]
        lo, hi = o["ci95"]
        ci = f"[{100 * lo:4.1f}, {100 * hi:4.1f}]%"
        q = s["weeks_to_outcome"].get(cls.name)
        med = f"{q['q50']:.0f} (90% in {q['q05']:.0f}-{q['q95']:.0f})" if q else "-"
        lines.append(f"{cls.label:<15}{_pct(o['p']):>7}   {ci:<16}{o['count']:>8,}   {med}")
    cif = s["cumulative_incidence"]
    n = len(cif["date"])
    per_week = 7 / sc.step_days
    # Only the marks the forecast reaches, and always the horizon itself.
    marks = [
        (label, round(weeks * per_week))
        for label, weeks in (("3 mo", 13), ("6 mo", 26), ("1 yr", 52), ("2 yr", 104))
        if 1 <= round(weeks * per_week) <= n
    ]
    if not marks or marks[-1][1] != n:
        marks.append(("horizon", n))
    header = "".join(f"{label:>9}" for label, _ in marks)
    lines += ["", f"{'reached by':<15}{header}"]
    for cls in shown:
        if cls.timed:
            cells = "".join(f"{_pct(cif[cls.name][steps - 1]):>9}" for _, steps in marks)
            lines.append(f"{cls.label:<15}{cells}")
    lines.append(
        "  (each run counted once, for its outcome at the horizon, from the step it was reached)"
    )
    lines += ["", "staff at the horizon    median   [5%, 95%]"]
    for mid, q in s["final_staff"].items():
        lines.append(f"  {mid:<20}{q['q50']:>8.0f}   [{q['q05']:.0f}, {q['q95']:.0f}]")
    if s.get("drawn"):
        lines += ["", "drawn per run                           median   [5%, 95%]"]
        for path, q in s["drawn"].items():
            lines.append(f"  {path:<36}{q['q50']:>8.3g}   [{q['q05']:.3g}, {q['q95']:.3g}]")
    lines += [
        "",
        "per side                staff lost (mean, 95% q)   measures (mean): hostile  conciliatory",
    ]
    for sid, q in s["staff_lost"].items():
        hostile = s["hostile_acts"][sid]["mean"]
        concil = s["conciliatory_acts"][sid]["mean"]
        lines.append(
            f"  {sid:<20}{q['mean']:>10.1f} {q['q95']:>8.0f}{hostile:>26.2f}{concil:>14.2f}"
        )
    why = s["why"]
    lines += ["", "why"]
    for whatif in why.get("offer_whatif") or []:
        lines.append(
            f"  in this model, if {whatif['state']} takes {whatif['offerer']}'s offer of "
            f"{whatif['offer_date']} (accepting on {whatif['accepted_on']}), same runs:"
        )
        for cls in shown:
            o = whatif["outcomes"][cls.name]
            lines.append(
                f"    {cls.label:<14}{_pct(o['base'])} -> {_pct(o['whatif'])}   "
                f"{100 * o['diff']:+5.1f} points [{100 * o['ci95_low']:+.1f}, "
                f"{100 * o['ci95_high']:+.1f}]"
            )
    offer = why["offer_accepted"]
    if offer["count"]:
        lines.append(
            f"  observed, not an effect: the offer was accepted in {_pct(offer['p']).strip()} "
            "of runs\n  (those runs differ from the others in more than the offer)"
        )
        for label, key in (
            ("accepted", "outcomes_if_offer_accepted"),
            ("not accepted", "outcomes_if_no_offer_accepted"),
        ):
            part = why[key]
            if part:
                shares = ", ".join(
                    f"{cls.label} {_pct(part[cls.name]['p']).strip()}" for cls in shown
                )
                lines.append(f"    offer {label} ({part['runs']:,} runs): {shares}")
    elif any(ev.kind == Kind.OFFER for ev in sc.events):
        lines.append("  the conditional offer was never accepted")
    spirals = s["outcomes"].get("spiral", {}).get("count", 0)
    if spirals:
        parts = ", ".join(
            f"{mid} {100 * c / spirals:.0f}%" for mid, c in why["spirals_by_closed_mission"].items()
        )
        lines.append(f"  spirals, by the mission that closed first: {parts}")
    lines.append(f"\nwall time {s['wall_time_s']:.2f} s")
    return "\n".join(lines)
