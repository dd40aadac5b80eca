"""The swarm bootstrap's scripts (infra/bootstrap/swarm_scripts.py) as rendered: shellcheck-clean,
idempotent by construction, and no join token anywhere but the join request's body.
They run for real against three dockerds in `make swarm-e2e` (tests/swarm/cluster.py)."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from infra.bootstrap import swarm_removal, swarm_scripts
from tests.unit.program import FAKE_JOIN_TOKEN

NODE_ID = "x" * 25
SCRIPTS = {
    "init": swarm_scripts.init_script("10.0.0.1"),
    "init-pool": swarm_scripts.init_script("10.0.0.1", "10.214.0.0/16", "/run/n1/docker.sock"),
    "token-worker": swarm_scripts.token_script("worker"),
    "token-manager": swarm_scripts.token_script("manager"),
    "join": swarm_scripts.join_script(),
    "labels-edge": swarm_scripts.label_script(NODE_ID, ["ora.edge"]),
    "labels-none": swarm_scripts.label_script(NODE_ID, []),
    "labels-role": swarm_scripts.label_script(NODE_ID, [], "manager"),
    "drain": swarm_removal.drain_script(NODE_ID),
    "drain-data": swarm_removal.drain_script(NODE_ID, data_node_allowed=True),
    "leave": swarm_removal.leave_script(),
    "remove": swarm_removal.remove_script(NODE_ID),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_passes_shellcheck(name, tmp_path):
    path = tmp_path / f"{name}.sh"
    path.write_text(SCRIPTS[name])
    run = subprocess.run(["shellcheck", "-s", "bash", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script_talks_to_the_given_socket_only(name):
    socket = "/run/n1/docker.sock" if name == "init-pool" else swarm_scripts.DEFAULT_SOCKET
    assert f"sock={socket}\n" in SCRIPTS[name]
    assert 'docker -H "unix://$sock"' in SCRIPTS[name]


@pytest.mark.parametrize("name", ["init", "join"])
def test_init_and_join_leave_a_node_already_in_a_swarm_alone(name):
    script = SCRIPTS[name]
    assert "state=$(docker info --format '{{.Swarm.LocalNodeState}}')" in script
    assert script.rstrip().endswith("docker info --format '{{.Swarm.NodeID}}'")


def test_init_listens_on_the_advertised_address_with_the_pool():
    assert (
        "docker swarm init --advertise-addr 10.0.0.1 --listen-addr 10.0.0.1:2377"
        " --default-addr-pool 10.214.0.0/16 >/dev/null"
    ) in SCRIPTS["init-pool"]
    assert "--default-addr-pool" not in SCRIPTS["init"]


# `docker swarm init` as Docker's CLI answers it: the worker's join command on stdout.
FAKE_DOCKER = f"""#!/bin/sh
shift 2  # -H unix://SOCKET
case "$*" in
  "info --format {{{{.Swarm.LocalNodeState}}}}") echo inactive ;;
  "info --format {{{{.Swarm.NodeID}}}}") echo {NODE_ID} ;;
  "swarm init "*)
    echo "Swarm initialized: current node ({NODE_ID}) is now a manager."
    echo "To add a worker to this swarm, run the following command:"
    echo "    docker swarm join --token {FAKE_JOIN_TOKEN} 10.0.0.1:2377"
    echo "To add a manager to this swarm, run 'docker swarm join-token manager'." ;;
  *) echo "unexpected: docker $*" >&2; exit 1 ;;
esac
"""


def test_init_prints_no_join_token_only_the_node_id(tmp_path):
    (tmp_path / "docker").write_text(FAKE_DOCKER)
    (tmp_path / "docker").chmod(0o755)
    run = subprocess.run(
        ["bash", "-c", SCRIPTS["init"]],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"{NODE_ID}\n"
    assert "SWMTKN" not in run.stdout + run.stderr, run.stderr


def test_join_posts_the_body_from_stdin_and_never_takes_a_token_argument():
    script = SCRIPTS["join"]
    assert "--data-binary @-" in script and "/v1.41/swarm/join" in script
    assert "--token" not in script and "SWMTKN" not in script


def test_join_body_carries_the_token_and_the_addresses():
    body = json.loads(swarm_scripts.join_body(FAKE_JOIN_TOKEN + "\n", "10.0.0.1", "10.0.0.2"))
    assert body == {
        "ListenAddr": "10.0.0.2:2377",
        "AdvertiseAddr": "10.0.0.2",
        "RemoteAddrs": ["10.0.0.1:2377"],
        "JoinToken": FAKE_JOIN_TOKEN,
    }


@pytest.mark.parametrize("printed", ["", "Error: This node is not a swarm manager.", "SWMTKN-1-x"])
def test_join_body_refuses_what_is_not_a_token(printed):
    with pytest.raises(ValueError, match="did not print a swarm join token"):
        swarm_scripts.join_body(printed, "10.0.0.1", "10.0.0.2")


@pytest.mark.parametrize("role", ["worker", "manager"])
def test_token_script_prints_the_roles_token(role):
    assert SCRIPTS[f"token-{role}"].endswith(f"docker swarm join-token -q {role}\n")


def test_token_script_refuses_an_unknown_role():
    with pytest.raises(ValueError, match="no join token for role 'leader'"):
        swarm_scripts.token_script("leader")


def test_labels_set_the_wanted_and_remove_the_others_only_when_present():
    script = SCRIPTS["labels-edge"]
    assert 'docker node update --label-add ora.edge=true "$node"' in script
    assert 'if [[ "$labels" == *\'"ora.data":\'* ]]; then' in script
    assert "--label-add ora.data" not in script


def test_a_role_is_set_only_when_it_differs():
    assert (
        "role=$(docker node inspect --format '{{.Spec.Role}}' \"$node\")" in SCRIPTS["labels-role"]
    )
    assert (
        '[ "$role" = manager ] || docker node update --role manager "$node"'
        in SCRIPTS["labels-role"]
    )
    assert "--role" not in SCRIPTS["labels-none"]


def test_drain_demotes_a_manager_first_and_waits_for_its_tasks_elsewhere():
    script = SCRIPTS["drain"]
    demote, drain = script.index("docker node demote"), script.index("--availability drain")
    assert demote < drain
    assert 'docker node ps "$node" --filter desired-state=running' in script
    assert "--filter mode=replicated" in script


def test_drain_refuses_the_data_node_unless_allowed():
    assert "holds ora.data" in SCRIPTS["drain"]
    assert "holds ora.data" not in SCRIPTS["drain-data"]


@pytest.mark.parametrize("name", ["drain", "remove"])
def test_a_node_already_gone_is_left_alone(name):
    assert 'if ! docker node inspect "$node" >/dev/null 2>&1; then' in SCRIPTS[name]


def test_remove_waits_for_the_node_to_be_down():
    script = SCRIPTS["remove"]
    assert script.index("= down ]") < script.index('docker node rm "$node"')


@pytest.mark.parametrize(
    ("node_id", "labels", "error"),
    [
        ("abc; reboot", ["ora.edge"], "is not a swarm node ID"),
        (NODE_ID, ["ora.gpu"], "unknown node labels"),
    ],
)
def test_label_script_refuses_bad_input(node_id, labels, error):
    with pytest.raises(ValueError, match=error):
        swarm_scripts.label_script(node_id, labels)


def test_in_bash_runs_the_script_with_its_stdin():
    line = swarm_scripts.in_bash('set -euo pipefail\nread -r x\necho "got $x"\n')
    run = subprocess.run(
        ["sh", "-c", line], input="it\n", capture_output=True, text=True, check=True
    )
    assert run.stdout == "got it\n"
    assert shlex.split(line)[:2] == ["bash", "-c"]
