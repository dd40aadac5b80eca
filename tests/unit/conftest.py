import pytest

from infra import config
from tests.unit import program

STACKS = config.known_stacks()


@pytest.fixture(scope="session", params=STACKS)
def declared(request) -> program.Declared:
    """The resource graph of each stack, evaluated once per session."""
    graph = program.evaluate(request.param)
    graph.stack = request.param
    return graph
