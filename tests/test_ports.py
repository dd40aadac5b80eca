"""tests/ports.py: no port twice in a run, none from the kernel's ephemeral range."""

import socket

import pytest

from tests import ports


def test_never_hands_out_the_same_port_twice():
    given = [ports.allocate() for _ in range(200)]
    assert len(set(given)) == len(given)


def test_ports_come_from_below_the_ephemeral_range():
    low, _ = ports.ephemeral_range()
    assert all(ports.LOWEST <= ports.allocate() < low for _ in range(20))


def test_a_port_something_listens_on_is_skipped():
    allocator = ports.Allocator(ports.pool(ports.ephemeral_range()), start=0)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", allocator.ports.start))
        taken.listen()
        assert allocator.allocate() != allocator.ports.start


def test_the_range_wraps_around_and_ends_when_every_port_is_given():
    allocator = ports.Allocator(range(20000, 20003), start=2)
    assert [allocator.allocate() for _ in range(3)] == [20002, 20000, 20001]
    with pytest.raises(RuntimeError, match="no free port left in 20000-20002"):
        allocator.allocate()


@pytest.mark.parametrize(
    ("ephemeral", "expected"),
    [
        ((32768, 60999), range(22768, 32768)),
        ((1024, 40000), range(40001, 50001)),
        ((2500, 65000), range(1024, 2500)),
    ],
)
def test_the_pool_avoids_the_ephemeral_range(ephemeral, expected):
    assert ports.pool(ephemeral) == expected


def test_no_room_outside_the_ephemeral_range_is_an_error():
    with pytest.raises(RuntimeError, match="no room outside the ephemeral ports 1024-65535"):
        ports.pool((1024, 65535))


def test_an_unreadable_range_falls_back_to_linuxs_default(tmp_path):
    assert ports.ephemeral_range(tmp_path / "missing") == (32768, 60999)
