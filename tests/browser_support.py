"""What the explorer's browser tests and benchmark share: how to start Chromium here.

Debian's Chromium, driven by Playwright through ``executable_path`` (Playwright's own
browser download does not work on these machines), with the flags a machine with no
network and no sandbox (root in a container) needs: no background connections, no
first-run dialogs.
"""

import shutil
import socket

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
