"""Does an overlay network carry traffic between two nodes? A throwaway HTTP server
task pinned to node 2, fetched from a container on node 1 over the overlay."""

from __future__ import annotations

import time
import uuid

import docker
import docker.errors

from tests.swarm.realize_swarm import wait_gone

FETCH = (
    "import urllib.request; print(urllib.request.urlopen('http://probe:8000/', timeout=5).status)"
)


def cross_node_fetch(cluster, image: str, options: dict[str, str] | None) -> str:
    """'200' when node 1 reached the server on node 2; otherwise what went wrong."""
    client = cluster.host
    tag = uuid.uuid4().hex[:8]
    network = service = None
    try:
        network = client.networks.create(
            f"ora-e2e-probe-{tag}", driver="overlay", attachable=True, options=options
        )
        service = client.api.create_service(
            {
                "ContainerSpec": {
                    "Image": image,
                    "Args": ["python", "-m", "http.server", "8000"],
                    "Healthcheck": {"Test": ["NONE"]},  # the image's checks the app, not this
                },
                "Placement": {"Constraints": [f"node.id=={cluster.ids['node2']}"]},
                "Networks": [{"Target": network.id, "Aliases": ["probe"]}],
            },
            name=f"ora-e2e-probe-{tag}",
            endpoint_spec={"Mode": "dnsrr"},
        )["ID"]
        deadline = time.monotonic() + 45
        outcome = "the server task never ran"
        while time.monotonic() < deadline:
            tasks = client.api.tasks(filters={"service": service})
            states = [t["Status"]["State"] for t in tasks]
            if "running" in states:
                outcome = _fetch(client, image, network.name)
                if outcome == "200":
                    return outcome
            elif any(s in ("failed", "rejected") for s in states):
                return f"task {states}: {tasks[0]['Status'].get('Err', '')}"
            time.sleep(1)
        return outcome
    except docker.errors.APIError as error:
        return f"API error: {error.explanation}"
    finally:
        if service:
            client.api.remove_service(service)
            wait_gone(client, service)
        if network:
            for _ in range(20):
                try:
                    network.remove()
                    break
                except docker.errors.APIError:
                    time.sleep(0.5)


def _fetch(client, image: str, network: str) -> str:
    try:
        out = client.containers.run(
            image, ["python", "-c", FETCH], network=network, remove=True, stderr=True
        )
    except docker.errors.ContainerError as error:
        return (error.stderr or b"").decode(errors="replace").strip().splitlines()[-1]
    return out.decode().strip()
