"""`make rollback` and `make history` on the dev stack, under the e2e load: a new app
image is deployed, then rolled back to the previous one by the operator command.
Run: pytest tests/e2e -m e2e -k rollback"""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.conftest import project_copy
from tests.e2e.load import Load
from tests.e2e.realize import wait_healthy
from tests.e2e.test_ops import make, shim_env  # noqa: F401 - shim_env is a fixture

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]
LOAD_RATE = 60


def history(deployment) -> list[dict]:
    return deployment.outputs["appHistory"]


def test_make_rollback_under_load_returns_to_the_previous_image(deployment, wheels, shim_env):  # noqa: F811
    before = history(deployment)[0]["image"]
    project = project_copy(deployment.workdir, "project-rollback", wheels)
    (project / "app" / "ora" / "e2e_rollback.txt").write_text(f"rollback {time.time()}\n")
    deployment.apply(project)
    new = history(deployment)[0]["image"]
    assert new != before and history(deployment)[1]["image"] == before
    # `pulumi up` of the shim applies the project the stack now deploys (with the new app).
    env = {**shim_env, "ORA_SHIM_PROJECT": str(project)}
    search = deployment.outputs["url"] + "/api/v1/search?q=the+e2e+canary&limit=3"
    headers = {"Authorization": f"Bearer {deployment.outputs['devApiKey']}"}
    with Load(search, rate=LOAD_RATE, headers=headers) as load:
        started = time.monotonic()
        done = make("rollback", env=env)
        rolled_back_in = time.monotonic() - started
        deployment.outputs = json.loads(deployment.outputs_file.read_text())
        for name in deployment.containers:
            wait_healthy(deployment.client, name, 120)
        time.sleep(3)
    result = load.result
    print(
        f"\nROLLBACK UNDER LOAD: {result.sent} requests in {result.seconds:.1f} s "
        f"({result.rate:.1f} req/s), make rollback {rolled_back_in:.1f} s, FAILED REQUESTS: "
        f"{result.failed} {dict(result.failures)}; resent on a closed keepalive connection: "
        f"{result.retried}"
    )
    assert done.returncode == 0
    assert f"rolled back to {before}" in done.stdout
    assert deployment.outputs["images"]["app"] == before
    first = history(deployment)[0]
    assert (first["image"], first["rollback"]) == (before, True)
    shown = make("history", env=env)
    assert shown.returncode == 0
    assert shown.stdout.splitlines()[1].startswith("*")
    assert shown.stdout.splitlines()[1].endswith(f"{before}  (rollback)")
    assert result.failed == 0
