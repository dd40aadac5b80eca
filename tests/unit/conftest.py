import pytest

from infra import config
from tests.unit import program

# The single-host stacks; the swarm target's graph has its own invariants (test_swarm.py).
STACKS = [s for s in config.known_stacks() if not config.offline(s).swarm.enabled]


@pytest.fixture(scope="session", params=STACKS)
def declared(request) -> program.Declared:
    """The resource graph of each stack, evaluated once per session."""
    graph = program.evaluate(request.param)
    graph.stack = request.param
    return graph
