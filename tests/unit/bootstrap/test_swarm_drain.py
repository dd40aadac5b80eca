"""The drain script (infra/bootstrap/swarm_removal.py) run by bash against a docker
that answers from a script of states: it returns only once the node's replicas run
elsewhere, and a docker call that fails fails the drain instead of ending the wait.
The real engine runs it in `make swarm-e2e` (tests/swarm/test_swarm_removal.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from infra.bootstrap import swarm_removal, swarm_scripts

NODE = "n" * 25
OTHER = "o" * 25

# A docker CLI that answers the calls the drain makes. `inspect --type task` answers
# from `states` in turn (the last one repeats); every call is logged.
FAKE_DOCKER = """#!{python}
import json, sys
from pathlib import Path

here = Path(__file__).parent
args = sys.argv[3:]  # after -H unix://SOCKET
with open(here / "calls", "a") as log:
    log.write(" ".join(args) + "\\n")
conf = json.loads((here / "conf.json").read_text())
text = " ".join(args)
if args[:2] == ["inspect", "--type"]:
    calls = here / "inspects"
    done = int(calls.read_text()) if calls.exists() else 0
    calls.write_text(str(done + 1))
    states = conf["states"]
    answer = states[min(done, len(states) - 1)]
    if answer is None:
        print("Error response from daemon: rpc error: DeadlineExceeded", file=sys.stderr)
        sys.exit(1)
    print("\\n".join(answer))
elif args[:2] == ["node", "inspect"]:
    if "Labels" in text:
        print(json.dumps(conf["labels"]))
    elif "Role" in text:
        print(conf["role"])
elif args[:2] == ["node", "ps"]:
    pass  # nothing of the node is meant to run there any more
elif args[:2] == ["service", "ls"]:
    print("svc1")
elif args[:2] == ["service", "inspect"]:
    print("2" if "Replicas" in text else "ora-swarm-app")
elif args[:2] == ["service", "ps"]:
    print("task1\\ntask2")
"""


def drain(tmp_path: Path, states, labels=None, role="worker", **kwargs):
    (tmp_path / "docker").write_text(FAKE_DOCKER.format(python=sys.executable))
    (tmp_path / "docker").chmod(0o755)
    conf = {"states": states, "labels": labels or {"ora.edge": "true"}, "role": role}
    (tmp_path / "conf.json").write_text(json.dumps(conf))
    script = swarm_removal.drain_script(NODE, **kwargs)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    run = subprocess.run(
        ["sh", "-c", swarm_scripts.in_bash(script)], capture_output=True, text=True, env=env
    )
    calls = (tmp_path / "calls").read_text().splitlines()
    return run, calls


def test_the_drain_waits_until_the_replicas_run_elsewhere(tmp_path):
    states = [[f"{NODE} running", f"{OTHER} running"], [f"{OTHER} running", f"{OTHER} running"]]
    run, calls = drain(tmp_path, states)
    assert run.returncode == 0, run.stderr
    assert "drained after" in run.stdout
    assert sum(call.startswith("inspect --type task") for call in calls) == 2
    assert calls.index(f"node update --availability drain {NODE}") < len(calls) - 1


def test_a_failed_docker_call_fails_the_drain(tmp_path):
    run, _ = drain(tmp_path, [None])
    assert run.returncode != 0
    assert "drained" not in run.stdout
    assert "DeadlineExceeded" in run.stderr


def test_a_manager_is_demoted_before_it_is_drained(tmp_path):
    run, calls = drain(tmp_path, [[f"{OTHER} running", f"{OTHER} running"]], role="manager")
    assert run.returncode == 0, run.stderr
    assert calls.index(f"node demote {NODE}") < calls.index(
        f"node update --availability drain {NODE}"
    )


def test_the_data_node_is_refused_before_anything_changes(tmp_path):
    run, calls = drain(tmp_path, [[]], labels={"ora.data": "true"})
    assert run.returncode == 1
    assert "holds ora.data" in run.stderr
    assert not [call for call in calls if "update" in call or "demote" in call]


def test_the_data_node_is_drained_when_the_config_allows_it(tmp_path):
    states = [[f"{OTHER} running", f"{OTHER} running"]]
    run, _ = drain(tmp_path, states, labels={"ora.data": "true"}, data_node_allowed=True)
    assert run.returncode == 0, run.stderr
