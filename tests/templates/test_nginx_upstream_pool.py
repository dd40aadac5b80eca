"""The edge with the replicas' addresses (the program's rendering): an upstream keepalive
pool that reuses connections, and still fails over an idempotent request when a replica
goes away with idle pooled connections."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from edge_harness import REPLICAS, NginxProcess, StubApp, behaviour_config
from nginx_binaries import NginxBinary
from test_nginx_behaviour import client

from infra.edge import render

REQUESTS = 40
# The requests go to `location /`, which has a rate limit of its own: paced within it.
PACE_SECONDS = 1 / float(render.OTHER_RATE_LIMIT.removesuffix("r/s"))


@pytest.fixture(scope="session")
def pool_edge(
    nginx_binary: NginxBinary,
    start_nginx: Callable[..., NginxProcess],
    replicas: dict[str, StubApp],
) -> NginxProcess:
    servers = tuple(f"{address}:{stub.port}" for address, stub in replicas.items())
    return start_nginx(behaviour_config(nginx_binary), upstream_servers=servers)


@pytest.fixture
def https(pool_edge: NginxProcess, client_context: ssl.SSLContext) -> Iterator[httpx.Client]:
    with client(pool_edge, client_context) as c:
        yield c


def upstream_connections(https: httpx.Client, count: int) -> set[tuple[str, int]]:
    """(replica, nginx's source port) of `count` GETs: one pair per upstream connection."""
    answers = []
    for _ in range(count):
        answers.append(https.get("/items"))
        time.sleep(PACE_SECONDS)
    assert [a.status_code for a in answers] == [200] * count
    return {(a.json()["replica"], a.json()["peer_port"]) for a in answers}


def test_upstream_connections_are_reused(https: httpx.Client) -> None:
    # One worker, sequential requests: one pooled connection per replica, not one per request.
    connections = upstream_connections(https, REQUESTS)
    assert {replica for replica, _ in connections} == set(REPLICAS)
    assert len(connections) <= 2 * len(REPLICAS)


@pytest.fixture(params=REPLICAS)
def replica_gone_with_pooled_connections(
    request, https: httpx.Client, replicas: dict[str, StubApp]
) -> Iterator[str]:
    upstream_connections(https, 10)  # both replicas now have idle pooled connections
    stub = replicas[request.param]
    stub.stop()  # also drops those idle connections, like a removed container
    yield request.param
    stub.start()


def test_get_fails_over_when_a_pooled_replica_goes_away(
    https: httpx.Client, replica_gone_with_pooled_connections: str
) -> None:
    connections = upstream_connections(https, 10)
    assert {replica for replica, _ in connections} == set(REPLICAS) - {
        replica_gone_with_pooled_connections
    }
