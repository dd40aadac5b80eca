"""schemathesis against the real service (Gunicorn, real redis-server) from its own OpenAPI
schema, without a key and with a key holding every scope: no request gets a 5xx."""

import subprocess
import sys

import httpx
import pytest
import schemathesis
from conftest import APP_DIR, base_env, bearer, process_env, stop_process, wait_for
from hypothesis import HealthCheck, given, settings
from ora.web import OPENAPI_PATH
from schemathesis.checks import not_a_server_error

from tests.ports import allocate

GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
EXAMPLES = 25  # per operation and caller: the whole file runs in seconds, not minutes


@pytest.fixture(scope="module")
def served(redis_server, keys_file, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("schemathesis") / "gunicorn.log"
    port = allocate()
    env = {
        **base_env(redis_server.url, keys_file),
        "ALLOWED_HOSTS": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "WRITE_RATE_PER_MINUTE": "100000",  # explore the routes, not the rate limit
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*GUNICORN, "--bind", f"127.0.0.1:{port}", "ora.main:app"],
            cwd=APP_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=process_env(env),
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: up(process, base), timeout=60)
            yield base, log_path
        finally:
            stop_process(process)


def up(process, base):
    assert process.poll() is None, f"gunicorn exited with {process.returncode}"
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def api_schema(served):
    base, _ = served
    return schemathesis.openapi.from_url(f"{base}{OPENAPI_PATH}", headers=bearer("reader"))


OPERATIONS = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/documents"),
    ("GET", "/api/v1/search"),
    ("POST", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/{job_id}"),
]
CALLERS = {"no key": {}, "every scope": bearer("all")}
fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_every_operation_is_fuzzed(api_schema):
    found = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize("caller", sorted(CALLERS))
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_error(api_schema, served, method, path, caller):
    base, log_path = served
    operation = api_schema[path][method]

    @fuzz_settings
    @given(case=operation.as_strategy())
    def fuzz(case):
        response = case.call(base_url=base, headers=CALLERS[caller])
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except Exception:
            print(log_path.read_text()[-4000:])  # the server's side of the failure
            raise

    fuzz()
