"""The soak: a steady HTTPS load through nginx on the e2e stack while every kind of
change is applied, one after the other: an app image change, an edge config change (the
rate limit), a certificate rotation, maintenance on then off, and `make rollback`.

Collected only when named: `make soak` (`make test` runs it after the e2e).
Prints the rate, the requests, and per event: how long the change took to apply and the
failures that overlapped it (a 503 with Retry-After while maintenance is on is expected,
not a failure). Goal: 0 failures.
"""

from __future__ import annotations

import collections
import json
import os
import threading
import time

import httpx
import pytest

from tests.e2e.conftest import project_copy
from tests.e2e.load import Load
from tests.e2e.realize import wait_healthy
from tests.e2e.test_ops import make, shim_env  # noqa: F401 - shim_env is a fixture

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.destructive,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
RATE = float(os.environ.get("ORA_SOAK_RATE", "200"))
THREADS = 20
SETTLE_S = 5  # quiet load between events, and the tail counted with each event


class TimedLoad(Load):
    """Load that keeps when each request ended and how, and takes maintenance 503s (with
    Retry-After) as answers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes: list[tuple[float, str]] = []
        self.expected_503 = 0
        self._record = threading.Lock()

    def _one(self, client: httpx.Client) -> str:
        try:
            response = client.get(self.url)
        except httpx.HTTPError as error:
            outcome = type(error).__name__
        else:
            maintenance = response.status_code == 503 and "retry-after" in response.headers
            outcome = "" if response.is_success or maintenance else f"HTTP {response.status_code}"
            if maintenance:
                outcome = "maintenance"
        with self._record:
            self.outcomes.append((time.monotonic(), outcome))
            self.expected_503 += outcome == "maintenance"
        if outcome == "maintenance":
            return ""
        return outcome


def test_soak_across_every_change(deployment, wheels, shim_env):  # noqa: F811
    # One address reaches nginx (the userland proxy): lift the per-IP limit above the rate.
    deployment.overrides |= {"rateLimit": "2000r/s", "rateLimitBurst": "4000"}
    deployment.apply(deployment.project)
    search = deployment.outputs["url"] + "/api/v1/search?q=the+e2e+canary&limit=3"
    headers = {"Authorization": f"Bearer {deployment.outputs['devApiKey']}"}
    events: list[tuple[str, float, float]] = []

    def event(name: str, change) -> None:
        started = time.monotonic()
        change()
        events.append((name, started, time.monotonic()))
        print(f"[soak] {name}: applied in {events[-1][2] - started:.1f} s", flush=True)
        time.sleep(SETTLE_S)

    def apply(**overrides: str):
        def change():
            deployment.overrides.update(overrides)
            deployment.apply(deployment.project)

        return change

    def new_image():
        project = project_copy(deployment.workdir, "project-soak", wheels)
        (project / "app" / "ora" / "e2e_soak.txt").write_text(f"soak {time.time()}\n")
        deployment.apply(project)

    def rotate_certificate():
        state_file = deployment.workdir / "state.json"
        state = json.loads(state_file.read_text())
        state_file.write_text(
            json.dumps({k: v for k, v in state.items() if not k.startswith("tls:index/")})
        )
        deployment.apply(deployment.project)

    def rollback():
        config = json.dumps(deployment.overrides)
        with open(shim_env["ORA_SHIM_CONFIG"], "w") as handle:
            handle.write(config)
        env = {**shim_env, "ORA_SHIM_PROJECT": str(deployment.project)}
        assert make("rollback", env=env).returncode == 0
        deployment.outputs = json.loads(deployment.outputs_file.read_text())
        for name in deployment.containers:
            wait_healthy(deployment.client, name, 120)

    with TimedLoad(search, rate=RATE, threads=THREADS, headers=headers) as load:
        time.sleep(SETTLE_S)
        event("app image change", new_image)
        event("edge config change (rate limit burst)", apply(rateLimitBurst="4001"))
        event("certificate rotation", rotate_certificate)
        event("maintenance on", apply(maintenance="true"))
        event("maintenance off", apply(maintenance="false"))
        event("make rollback", rollback)
    result = load.result
    per_event: dict[str, collections.Counter] = {name: collections.Counter() for name, *_ in events}
    between = collections.Counter()
    for at, outcome in load.outcomes:
        if outcome in ("", "maintenance", "RemoteProtocolError"):
            continue
        name = next((n for n, start, end in events if start <= at <= end + SETTLE_S), None)
        (per_event[name] if name else between)[outcome] += 1
    print(
        f"\nSOAK: {result.sent} requests in {result.seconds:.1f} s ({result.rate:.1f} req/s, "
        f"asked {RATE:.0f}) from {THREADS} clients over TLS; FAILED: {result.failed} "
        f"({result.failed / max(result.sent, 1):.5f}) {dict(result.failures)}; expected "
        f"maintenance 503s: {load.expected_503}; resent on a closed keepalive connection: "
        f"{result.retried}"
    )
    for name, started, ended in events:
        failures = per_event[name]
        print(
            f"  {name}: applied in {ended - started:.1f} s, failures {sum(failures.values())} "
            f"{dict(failures)}"
        )
    print(f"  between events: failures {sum(between.values())} {dict(between)}")
    assert result.failed == 0
