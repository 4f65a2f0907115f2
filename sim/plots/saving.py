"""Saving figures: PNG (and SVG) written atomically, so no reader sees half a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from sim.analysis.results import atomic_write
from sim.plots.style import PNG_DPI


def save_figure(fig: Figure, path: str | Path) -> list[Path]:
    """Write ``fig`` as PNG (dpi 150), and as SVG too when ``path`` ends in ``.svg``.

    ``x.png`` writes ``x.png``; ``x.svg`` writes ``x.svg`` and ``x.png``. Each file is
    written to a temporary file in the same directory and renamed into place, so no
    reader sees half a file. Returns the paths written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"{path}: expected a .png or .svg file name")
    targets = [(path.with_suffix(".png"), "png")]
    if suffix == ".svg":
        targets.append((path, "svg"))
    written = []
    for target, fmt in targets:
        # "tight" keeps legends placed outside the axes inside the image.
        options: dict[str, Any] = {"format": fmt, "bbox_inches": "tight", "pad_inches": 0.15}
        if fmt == "png":
            options["dpi"] = PNG_DPI
        else:
            options["metadata"] = {"Date": None}  # reproducible bytes
        _atomic_savefig(fig, target, options)
        written.append(target)
    return written


def _atomic_savefig(fig: Figure, path: Path, options: dict[str, Any]) -> None:
    """``fig.savefig`` through :func:`sim.analysis.results.atomic_write` (temp file, rename)."""
    atomic_write(path, lambda handle: fig.savefig(handle, **options))
