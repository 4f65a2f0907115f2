"""A live explorer in the browser: ``python -m sim explore SCENARIO``.

Move a lever (a policy parameter, an event left out, an offer taken, a measure added)
and the outcome probabilities, their paired difference from the scenario as written,
the outcomes over time and the staff fan chart follow. Built on Solara, the toolkit
under Mesa's own ``SolaraViz`` (which steps one model with a play button; here one
change reruns a whole ensemble, so the page is plain Solara). The front end is served
from the ``solara-assets`` package, so the page works with no network.

:mod:`sim.explore.session` holds everything the page computes, without the page.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["serve"]


def serve(
    scenario: str | Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    runs: int | None = None,
    seed: int | None = None,
) -> None:
    """Serve the explorer of ``scenario`` on ``host:port`` until interrupted.

    Binds the loopback interface by default: nothing is reachable from the network
    unless ``host`` says so.
    """
    import warnings

    import uvicorn

    from sim.explore import app
    from sim.scenario import load_scenario

    load_scenario(scenario)  # a bad file fails here, with the usual message
    app.CONFIG.update(scenario=str(scenario), runs=runs, seed=seed)
    # Solara reads these when its server module is imported; no version check
    # (it would reach PyPI), no telemetry.
    os.environ["SOLARA_APP"] = "sim.explore.app"
    os.environ["SERVER_NAME"] = host
    os.environ["SERVER_PORT"] = str(port)
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    # Solara warns that its session cookie cannot be SameSite=None over plain http; on
    # loopback it falls back to SameSite=Lax, which is what a local page needs.
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    config = uvicorn.Config(
        "solara.server.starlette:app", host=host, port=port, log_level="warning"
    )
    uvicorn.Server(config).run()
