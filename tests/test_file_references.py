"""A scenario's ``events_file`` is read with care (issue 17, finding 1).

The file must lie inside the scenario file's folder (symlinks followed) unless
``--allow-files-outside`` / ``allow_files_outside=True`` says otherwise; only a regular
file is opened (no FIFO, device, directory); its size is checked against a limit
(``SIM_MAX_EVENTS_FILE_BYTES``) before it is read; and no message quotes more of it than
a short, escaped excerpt of one cell. Every case runs in-process.
"""

from __future__ import annotations

import os
import threading
import time
import tomllib
from pathlib import Path

import pytest
import tomli_w

from sim.cli import build_parser, main
from sim.scenario import events_file as events_file_module
from sim.scenario import load_scenario, scenario_from_dict
from sim.spec import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
REPLAY = ROOT / "scenarios" / "us_russia_2016_2023_replay.toml"
CSV = ROOT / "scenarios" / "events" / "us_russia_2016_2023.csv"
HEADER = "date,actor,target,action,size,deadline,source,note\n"
ROW = "2017-01-13,us,russia,expel,10,2017-02-10,[A-x],first\n"


def scenario(folder: Path, events_file: str, csv_text: str | None = None) -> Path:
    """The replay scenario in ``folder`` naming ``events_file``; with ``csv_text``,
    that text is written to ``folder/events/e.csv``."""
    raw = tomllib.loads(REPLAY.read_text(encoding="utf-8"))
    raw["scenario"]["events_file"] = events_file
    folder.mkdir(parents=True, exist_ok=True)
    if csv_text is not None:
        (folder / "events").mkdir(exist_ok=True)
        (folder / "events" / "e.csv").write_text(csv_text, encoding="utf-8")
    path = folder / "s.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


def problems(path: Path, **kwargs) -> dict[str, str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, **kwargs)
    return {p.path: p.message for p in info.value.problems}


def outside_message(path: Path, **kwargs) -> str:
    found = problems(path, **kwargs)
    assert list(found) == ["scenario.events_file"], found
    message = found["scenario.events_file"]
    assert "outside the scenario's folder" in message, message
    assert "--allow-files-outside" in message and "allow_files_outside=True" in message
    return message


@pytest.fixture(autouse=True)
def _default_switch_and_limit(monkeypatch):
    """Each test starts from the defaults: files outside refused, the default limit."""
    monkeypatch.setattr(events_file_module, "ALLOW_FILES_OUTSIDE", False)
    monkeypatch.delenv("SIM_MAX_EVENTS_FILE_BYTES", raising=False)


# ------------------------------------------------------------ outside the folder
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="no /proc")
def test_proc_self_environ_is_refused_and_not_printed(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SIM_TEST_SECRET", "hunter2-do-not-print")
    path = scenario(tmp_path, "/proc/self/environ")
    outside_message(path)
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert "hunter2" not in captured.err + captured.out
    assert "SIM_TEST_SECRET" not in captured.err + captured.out
    assert "outside the scenario's folder" in captured.err


def test_etc_passwd_is_refused_without_echoing_it(tmp_path, capsys):
    path = scenario(tmp_path, "/etc/passwd")
    outside_message(path)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "root:" not in err and "unknown column" not in err
    assert "scenario.events_file" in err


@pytest.mark.parametrize(
    "value", ["../../x", "../e.csv", "events/../../e.csv", "./events/../../../../etc/hosts"]
)
def test_relative_escapes_are_refused(tmp_path, value):
    # A real, valid CSV one level up: the old code read it.
    (tmp_path / "e.csv").write_text(HEADER + ROW, encoding="utf-8")
    path = scenario(tmp_path / "case", value, HEADER + ROW)
    message = outside_message(path)
    assert value in message


def test_a_missing_file_outside_is_refused_as_outside_not_probed(tmp_path):
    # "no such file" for a path outside would tell whether files exist elsewhere.
    path = scenario(tmp_path / "case", "../nowhere/x.csv")
    outside_message(path)


def test_an_absolute_path_outside_is_refused_unless_allowed(tmp_path):
    other = tmp_path / "elsewhere" / "e.csv"
    other.parent.mkdir()
    other.write_text(HEADER + ROW, encoding="utf-8")
    path = scenario(tmp_path / "case", str(other))
    outside_message(path)
    sc = load_scenario(path, allow_files_outside=True)
    assert [e.size for e in sc.events] == [10]
    # The module-level switch (what the command-line flag sets) does the same.
    events_file_module.ALLOW_FILES_OUTSIDE = True
    assert [e.size for e in load_scenario(path).events] == [10]
    assert "scenario.events_file" in problems(path, allow_files_outside=False)


def test_an_absolute_path_inside_is_allowed(tmp_path):
    path = scenario(tmp_path, str(tmp_path / "events" / "e.csv"), HEADER + ROW)
    assert [e.size for e in load_scenario(path).events] == [10]


def test_symlink_inside_pointing_outside_is_refused(tmp_path):
    other = tmp_path / "elsewhere.csv"
    other.write_text(HEADER + ROW, encoding="utf-8")
    folder = tmp_path / "case"
    path = scenario(folder, "events/link.csv")
    (folder / "events").mkdir()
    (folder / "events" / "link.csv").symlink_to(other)
    outside_message(path)
    assert [e.size for e in load_scenario(path, allow_files_outside=True).events] == [10]


def test_symlinked_folder_pointing_outside_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "e.csv").write_text(HEADER + ROW, encoding="utf-8")
    folder = tmp_path / "case"
    path = scenario(folder, "events/e.csv")
    (folder / "events").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    outside_message(path)


def test_symlink_inside_pointing_inside_is_allowed(tmp_path):
    path = scenario(tmp_path, "link.csv", HEADER + ROW)
    (tmp_path / "link.csv").symlink_to(tmp_path / "events" / "e.csv")
    assert [e.size for e in load_scenario(path).events] == [10]


def test_a_document_without_a_file_is_confined_to_the_current_directory(tmp_path, monkeypatch):
    scenario(tmp_path / "here", "events/e.csv", HEADER + ROW)
    raw = tomllib.loads((tmp_path / "here" / "s.toml").read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path / "here")
    assert [e.size for e in scenario_from_dict(raw).events] == [10]
    monkeypatch.chdir(tmp_path / "here" / "events")
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(raw)  # events/e.csv from here: no such file, inside
    assert "no such file" in str(info.value)
    (tmp_path / "here" / "up.csv").write_text(HEADER + ROW, encoding="utf-8")
    raw["scenario"]["events_file"] = "../up.csv"
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(raw)
    assert "outside the current directory" in str(info.value)
    sc = scenario_from_dict(raw, allow_files_outside=True)
    assert [e.size for e in sc.events] == [10]


# ------------------------------------------------------------ regular files only
def test_symlink_to_dev_zero_is_refused_at_once(tmp_path):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    path = scenario(tmp_path, "zero.csv")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    outside_message(path)
    started = time.perf_counter()
    found = problems(path, allow_files_outside=True)  # even allowed: not a regular file
    assert time.perf_counter() - started < 1.0
    (message,) = found.values()
    assert "character device" in message and "regular" in message


def _load_in_thread(path: Path, seconds: float = 5.0) -> BaseException | None:
    """Load ``path`` in a thread; the exception it raised (None: it loaded). Fails
    the test if the load has not finished within ``seconds``."""
    result: list[BaseException | None] = []

    def target() -> None:
        try:
            load_scenario(path)
            result.append(None)
        except BaseException as exc:  # handed back to the test
            result.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        # Unblock a reader stuck in open(): a writer appears, then goes (EOF).
        fifo = Path(path).parent / "events" / "e.csv"
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        thread.join(5)
        pytest.fail(f"loading {path} blocked for more than {seconds} s")
    return result[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(tmp_path):
    path = scenario(tmp_path, "events/e.csv")
    (tmp_path / "events").mkdir()
    os.mkfifo(tmp_path / "events" / "e.csv")
    exc = _load_in_thread(path)
    assert isinstance(exc, ScenarioError), exc
    (problem,) = exc.problems
    assert problem.path == str(tmp_path / "events" / "e.csv")
    assert "FIFO" in problem.message and "regular" in problem.message


def test_directory_is_refused(tmp_path):
    path = scenario(tmp_path, "events", HEADER + ROW)
    found = problems(path)
    assert "is a directory" in found[str(tmp_path / "events")]


# ------------------------------------------------------------ size limit
def test_default_limit_is_well_above_the_shipped_files():
    limit = events_file_module.DEFAULT_MAX_EVENTS_FILE_BYTES
    shipped = [*ROOT.glob("scenarios/**/*.csv")]
    assert shipped and all(p.stat().st_size * 100 < limit for p in shipped)
    assert events_file_module.max_events_file_bytes() == limit


def test_a_file_over_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    text = HEADER + ROW * 40  # 2,144 bytes
    path = scenario(tmp_path, "events/e.csv", text)
    monkeypatch.setenv("SIM_MAX_EVENTS_FILE_BYTES", "1000")
    read = []
    original = events_file_module._read_events_csv
    monkeypatch.setattr(events_file_module, "_read_events_csv", lambda *a: read.append(a))
    found = problems(path)
    message = found[str(tmp_path / "events" / "e.csv")]
    size = len(text.encode())
    assert f"{size:,} bytes" in message and "limit of 1,000 bytes" in message
    assert "SIM_MAX_EVENTS_FILE_BYTES" in message
    assert not read
    monkeypatch.setattr(events_file_module, "_read_events_csv", original)
    monkeypatch.setenv("SIM_MAX_EVENTS_FILE_BYTES", str(size))  # exactly the limit: read
    assert len(load_scenario(path).events) == 40


def test_a_bad_limit_in_the_environment_is_a_clear_error(tmp_path, monkeypatch):
    path = scenario(tmp_path, "events/e.csv", HEADER + ROW)
    for bad in ("ten", "0", "-5"):
        monkeypatch.setenv("SIM_MAX_EVENTS_FILE_BYTES", bad)
        assert "SIM_MAX_EVENTS_FILE_BYTES" in problems(path)["scenario.events_file"]


def test_a_file_growing_past_its_stat_size_is_read_only_to_the_limit(tmp_path, monkeypatch):
    """/proc files say they are 0 bytes long and are not: at most limit + 1 bytes are
    read, whatever the stat said."""
    environ = Path("/proc/self/environ")
    if not environ.exists() or environ.stat().st_size != 0:
        pytest.skip("no /proc/self/environ of stat size 0")
    monkeypatch.setenv("SIM_TEST_PADDING", "x" * 200)
    monkeypatch.setenv("SIM_MAX_EVENTS_FILE_BYTES", "64")
    path = scenario(tmp_path, str(environ))
    (message,) = problems(path, allow_files_outside=True).values()
    assert "grew while being read" in message and "limit of 64 bytes" in message
    assert "SIM_TEST_PADDING" not in message


# ------------------------------------------------------------ short excerpts only
def test_a_long_non_printable_header_shows_a_short_escaped_excerpt(tmp_path, capsys):
    secret = "\x1b[31m" + "S" * 500 + "\x07\x00tail"
    path = scenario(tmp_path, "events/e.csv", secret + "\n" + ROW)
    found = problems(path)
    (message,) = [m for w, m in found.items() if w.endswith("row 1, column 1")]
    quoted = message.split("unknown column ", 1)[1].split("; known", 1)[0]
    assert quoted.startswith("'\\x1b[31m") and quoted.endswith("...'")
    assert len(quoted) <= 40 + len("''...")
    assert "\x1b" not in message and "\x07" not in message and "tail" not in message
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "S" * 41 not in err


def test_a_first_line_of_many_cells_is_not_quoted_cell_by_cell(tmp_path):
    line = ",".join(f"secret{i:03d}" for i in range(50))  # another file's first line
    path = scenario(tmp_path, "events/e.csv", line + "\n" + ROW)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text = str(info.value)
    assert "secret004" in text and "secret005" not in text and "secret049" not in text
    assert "45 more" in text and len(info.value.problems) == 7


def test_bad_cells_show_short_escaped_excerpts(tmp_path):
    long = "\u202e" + "9" * 300
    text = HEADER + f"2017-01-13,{'z' * 300},russia,expel,{long},2017-02-10,[A-x],\n"
    path = scenario(tmp_path, "events/e.csv", text)
    found = problems(path)
    f = str(tmp_path / "events" / "e.csv")
    size = found[f"{f}: row 2, column size"]
    assert "\u202e" not in size and "\\u202e" in size and "9" * 40 not in size
    actor = found[f"{f}: row 2, column actor"]  # the validation's message, shortened
    assert "z" * 41 not in actor and "..." in actor and "state id" in actor
    for message in found.values():
        assert len(message) < 300, message


def test_excerpt():
    excerpt = events_file_module.excerpt
    assert excerpt("usa") == "'usa'"
    assert excerpt("it's") == "'it\\'s'"
    cut = excerpt("\x00" * 50)
    assert cut == "'" + "\\x00" * 10 + "...'"
    assert excerpt("a" * 40) == "'" + "a" * 40 + "'"
    assert excerpt("a" * 41) == "'" + "a" * 40 + "...'"


# ------------------------------------------------------------ the command line
def test_allow_files_outside_flag(tmp_path, capsys):
    other = tmp_path / "elsewhere.csv"
    other.write_text(HEADER + ROW, encoding="utf-8")
    path = str(scenario(tmp_path / "case", "../elsewhere.csv"))
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    assert "outside the scenario's folder" in err and "--allow-files-outside" in err
    assert main(["validate", path, "--allow-files-outside"]) == 0
    assert "valid scenario" in capsys.readouterr().out
    assert events_file_module.ALLOW_FILES_OUTSIDE is False  # only for that command
    assert main(["validate", path]) == 2
    run = ["run", path, "--runs", "1", "--quiet", "--no-whatif"]
    assert main(run) == 2
    assert main([*run, "--allow-files-outside"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    "command",
    [
        ["run", "s.toml"],
        ["validate", "s.toml"],
        ["sweep", "s.toml"],
        ["robust", "s.toml", "--lever", "a=1,2"],
        ["explore", "s.toml"],
        ["calibrate", "s.toml"],
        ["backtest"],
    ],
)
def test_every_command_reading_scenarios_has_the_flag(command):
    args = build_parser().parse_args([*command, "--allow-files-outside"])
    assert args.allow_files_outside is True
    assert build_parser().parse_args(command).allow_files_outside is False
