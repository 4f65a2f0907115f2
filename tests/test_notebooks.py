"""The analysis notebooks run top to bottom without an error.

Each notebook in ``notebooks/`` is executed with nbclient, in a fresh kernel whose
working directory is ``notebooks/`` (the notebooks use paths such as
``../scenarios/us_russia_2021.toml``). The kernel is the ``python3`` kernelspec, pinned
to the interpreter running the tests: a kernelspec written to a temporary directory at
the front of ``JUPYTER_PATH`` starts ``sys.executable -m ipykernel_launcher``, so a
``python3`` kernelspec installed elsewhere (another environment, the user's home) cannot
be picked up instead. A first cell added to each notebook checks it.

Needs ``nbclient``, ``nbformat`` and ``ipykernel`` (with them, the test extra).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = [
    "01_us_russia_2021.ipynb",
    "02_policy_sweep.ipynb",
    "03_your_own_scenario.ipynb",
    "04_history_as_evidence.ipynb",
    "05_which_worlds_spiral.ipynb",
]
CELL_TIMEOUT = 300  # seconds per cell; the longest, 04's calibration, takes a minute or two


@pytest.fixture
def this_interpreter_kernel(tmp_path, monkeypatch):
    """A ``python3`` kernelspec that runs this interpreter, first on ``JUPYTER_PATH``."""
    spec_dir = tmp_path / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    return "python3"


def test_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


def _code(name: str) -> list[str]:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("name", NAMES)
def test_figures_are_drawn_sharp(name):
    # Inline figures at twice their pixels (the figures set their own dpi).
    assert 'InlineBackend.figure_format = "retina"' in _code(name)[0]


@pytest.mark.parametrize("name", NAMES)
def test_variants_are_compared_by_their_paired_intervals(name):
    """A comparison of variants is drawn with the interval of the difference
    (sim.plots.plot_paired_differences), not as bars of each variant's own interval
    (sim.compare), and the paired differences come from sim.paired_difference or
    sim.compare_results, not from a re-implementation."""
    code = "\n".join(_code(name))
    assert "sim.compare(" not in code
    assert "ddof" not in code and "1.96" not in code
    if "compare_results(" in code:
        assert "plot_paired_differences(" in code


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, this_interpreter_kernel):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    check = nbformat.v4.new_code_cell(
        "import sys\n"
        f"assert sys.prefix == {sys.prefix!r}, "
        "f'kernel runs {sys.executable}, not the test interpreter'"
    )
    nb.cells.insert(0, check)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name=this_interpreter_kernel,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
