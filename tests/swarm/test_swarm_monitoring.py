"""Monitoring on the e2e swarm (#25, item 1): every target up, node-exporter and mtail on
each of the three nodes found by DNS, the log files of the app's replicas counted on the
nodes they run on, an induced burst of 5xx at the edge -> the error-rate email at the real
SMTP relay and its resolution, and monitoring's memory against the stack's."""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import time
import urllib.parse

import httpx
import pytest

from infra import config
from infra.monitoring import edge_series
from infra.monitoring import rules as monitoring_rules
from infra.services import app as app_spec
from infra.targets.swarm import monitoring as swarm_monitoring
from tests.e2e.test_monitoring import BURST, _alert_mails, _memory
from tests.monitoring import smtp
from tests.swarm.test_swarm_node_loss import stack_settled, wait_until

pytestmark = pytest.mark.e2e
STACK = "swarm"
GLOBAL_JOBS = ("node", "mtail")  # one target per node


def task_container(deployment, service: str):
    """The running container of a one-task service on node 1 (the manager)."""
    name = deployment.outputs["monitoring"][service]
    [found] = deployment.cluster.host.containers.list(
        filters={"label": f"com.docker.swarm.service.name={name}", "status": "running"}
    )
    return found


def prometheus(deployment, path: str, **params) -> dict:
    """Prometheus' HTTP API, asked from inside its task (it publishes no port)."""
    address = swarm_monitoring.runtime(config.offline(STACK)).targets["prometheus"]
    url = f"http://{address}{path}?{urllib.parse.urlencode(params)}"
    result = task_container(deployment, "prometheus").exec_run(["wget", "-q", "-O", "-", url])
    assert result.exit_code == 0, result.output.decode(errors="replace")
    return json.loads(result.output)


def query(deployment, expr: str) -> list[dict]:
    return prometheus(deployment, "/api/v1/query", query=expr)["data"]["result"]


def first(predicate, timeout: float, what: str):
    """predicate()'s first truthy answer; raises after `timeout`."""
    found = []
    wait_until(what, lambda: found.append(predicate()) or found[-1], timeout)
    return found[-1]


def test_every_target_is_up_and_each_node_is_scraped(deployment):
    size = deployment.cluster.size

    def all_up():
        targets = prometheus(deployment, "/api/v1/targets")["data"]["activeTargets"]
        per_job = {}
        for target in targets:
            per_job.setdefault(target["labels"]["job"], []).append(target)
        down = [(t["labels"]["job"], t["lastError"]) for t in targets if t["health"] != "up"]
        complete = all(len(per_job.get(job, ())) == size for job in GLOBAL_JOBS)
        return per_job if complete and not down else None

    per_job = first(all_up, 120, "every target up, node and mtail on each node")
    print(f"\n[swarm] monitoring: targets up per job { ({k: len(v) for k, v in per_job.items()}) }")
    assert {"prometheus", "alertmanager", "node", "redis", "qdrant", "mtail", "app"} <= set(per_job)
    assert len(per_job["app"]) == int(deployment.overrides["appReplicas"])


def test_log_files_are_counted_on_the_nodes_that_write_them(deployment):
    """Each app replica writes app.log on its node's app-logs volume; the mtail of that
    node counts it, so the app stream has a series per node."""

    def per_node():
        found = query(deployment, 'ora_log_bytes_total{stream="app"} > 0')
        return {r["metric"]["instance"] for r in found}

    instances = first(
        lambda: len(per_node()) == deployment.cluster.size and per_node(),
        120,
        "app.log counted on every node",
    )
    streams = {r["metric"]["stream"] for r in query(deployment, "ora_log_bytes_total")}
    print(f"\n[swarm] monitoring: log streams {sorted(streams)}; app.log from {sorted(instances)}")
    assert {"app", "worker", "scheduler"} <= streams


def _scale_app(deployment, replicas: int) -> None:
    app = deployment.outputs["services"]["app"]
    subprocess.run(
        ["docker", "service", "scale", "--detach", f"{app}={replicas}"],
        check=True, capture_output=True,
    )  # fmt: skip


def _edge(deployment, count: int) -> list[int]:
    """`count` requests to the edge's root, 16 at a time (the rule's short window)."""
    url = deployment.outputs["url"].replace("localhost", "127.0.0.1") + "/"

    def one(_):
        try:
            answer = httpx.get(url, verify=False, headers={"Host": "localhost"}, timeout=10)  # noqa: S501
        except httpx.HTTPError:
            return 0
        return answer.status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(count)))


def _running_containers(deployment) -> list[dict]:
    """The app's tasks whose container runs, whatever Swarm wants of them."""
    name = deployment.outputs["services"]["app"]
    found = deployment.cluster.host.api.tasks(filters={"service": name})
    return [t for t in found if t["Status"]["State"] == "running"]


def _edge_log_tail(deployment, lines: int = 4) -> str:
    """The last lines node 1's nginx wrote (its access and error logs), and what its
    resolver answers for the app's alias: why the edge answered as it did."""
    name = deployment.outputs["services"]["nginx"]
    [edge] = deployment.cluster.host.containers.list(
        filters={"label": f"com.docker.swarm.service.name={name}"}
    )
    resolved = edge.exec_run(["getent", "hosts", app_spec.ALIAS]).output.decode()
    return f"{edge.logs(tail=lines).decode(errors='replace')}\n{app_spec.ALIAS} -> {resolved!r}"


def test_a_burst_of_5xx_at_the_edge_emails_one_alert_then_its_resolution(deployment, alert_relay):
    """The app scaled to 0 for a burst: nginx on node 1 answers 5xx, its access log on the
    edge-logs volume is counted by node 1's mtail, and Alertmanager (on the manager) emails
    through the alerting overlay."""
    inbox = alert_relay.inbox
    replicas = int(deployment.overrides["appReplicas"])
    started = time.monotonic()
    _scale_app(deployment, 0)
    try:
        # Until the last container has stopped, not only until Swarm meant it to: a replica
        # shutting down (gunicorn's graceful stop) still answers, 404 for /.
        wait_until("no app container running", lambda: not _running_containers(deployment), 90)
        assert not _alert_mails(inbox, "FIRING"), "an error-rate email before the burst"
        burst_started = time.monotonic()
        statuses = _edge(deployment, BURST)
        burst = time.monotonic() - burst_started
    finally:
        _scale_app(deployment, replicas)
    assert sum(s >= 500 for s in statuses) >= monitoring_rules.MIN_EDGE_REQUESTS, (
        statuses,
        _edge_log_tail(deployment),
    )
    try:
        firing = first(lambda: _alert_mails(inbox, "FIRING"), 120, "a firing email")
    except TimeoutError:
        print(f"mails: {[m['Subject'] for m in inbox.messages]}")
        print(query(deployment, f"sum by (instance) ({edge_series.ERRORS})"))
        print(query(deployment, "ALERTS"))
        raise
    arrived = time.monotonic() - burst_started
    stack_settled(deployment)
    resolved = first(lambda: _alert_mails(inbox, "RESOLVED"), 180, "a resolved email")
    (mail,) = firing
    assert len(_alert_mails(inbox, "FIRING")) == 1
    text = smtp.text_of(mail)
    threshold = config.offline(STACK).monitoring.error_rate_percent
    print(
        f"\n[swarm] monitoring: {sum(s >= 500 for s in statuses)}/{len(statuses)} requests "
        f"5xx in {burst:.1f} s; email {mail['Subject']!r} {arrived:.1f} s after the burst's "
        f"first request; resolved {time.monotonic() - started:.0f} s after the scale-down"
    )
    assert mail["To"] == alert_relay.overrides["alertEmail"]
    assert "EdgeErrorRate" in text and f"threshold: {threshold} %" in text
    assert "RESOLVED" in resolved[0]["Subject"]


def test_monitoring_memory_against_the_stacks(deployment):
    """A benchmark print: every task container of the stack on every node."""
    monitoring = set(deployment.outputs["monitoring"].values())
    used = {"monitoring": 0, "stack": 0}
    members = [None, *deployment.cluster.members.values()]  # None: node 1, the host's
    for member in members:
        client = deployment.cluster.host if member is None else member.client
        for found in client.containers.list(filters={"label": f"org.ora.stack={STACK}"}):
            service = found.labels.get("com.docker.swarm.service.name", "")
            memory = _memory(found)[0]
            used["stack"] += memory
            if service in monitoring:
                used["monitoring"] += memory
    share = 100 * used["monitoring"] / used["stack"]
    print(
        f"\n[swarm] monitoring memory: {used['monitoring'] / 2**20:.1f} MiB of the stack's "
        f"{used['stack'] / 2**20:.1f} MiB ({share:.1f} %; goal <= 25 %)"
    )
    assert used["monitoring"] > 0
