"""`python -m ora.healthcheck`: the image's HEALTHCHECK, for both roles of the image.

The worker touches HEARTBEAT_FILE on every loop; where that file exists the check is its
age, otherwise it is the web process' /healthz. No curl in slim images: stdlib only.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request

# /tmp is the container's tmpfs; tests point it elsewhere.
HEARTBEAT_FILE = os.environ.get("ORA_HEARTBEAT_FILE", "/tmp/ora-worker.heartbeat")  # noqa: S108
HEARTBEAT_MAX_AGE = 60.0


def check(heartbeat_file: str = HEARTBEAT_FILE) -> str | None:
    """None when healthy, else the reason."""
    try:
        age = time.time() - os.stat(heartbeat_file).st_mtime
    except FileNotFoundError:
        pass
    else:
        return None if age < HEARTBEAT_MAX_AGE else f"worker heartbeat is {age:.0f} s old"
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return None if response.status == 200 else f"/healthz answered {response.status}"
    except OSError as error:
        return f"/healthz unreachable: {error}"


if __name__ == "__main__":
    problem = check()
    if problem:
        print(problem, file=sys.stderr)
    sys.exit(1 if problem else 0)
