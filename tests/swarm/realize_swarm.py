"""The e2e realizer (tests/e2e/realize.py) extended to the swarm target's resource types:
docker.Service, docker.Secret, docker.ServiceConfig and pulumi-random's RandomId, created
through the Engine API of the swarm's manager with their inputs exactly as declared.

A second apply with a changed service updates it in place (`docker service update`):
Swarm rolls the tasks as the service's update config says, and the apply waits as
pulumi-docker does (tests/provider_rules.py): only with `convergeConfig`, until the update
is "completed" or every slot has a running task, whatever its version. A rollback Swarm
starts after that is not seen here, as the provider does not see it:
`infra/ops/rollout.py`, which `make up` and the swarm e2e run after an apply, does.
Secrets and configs a new apply no longer declares are removed after the services moved
off them.

    python -m tests.swarm.realize_swarm apply --project DIR --stack swarm --state FILE
    python -m tests.swarm.realize_swarm destroy --state FILE
"""

from __future__ import annotations

import base64
import re
import secrets
import sys
import time
from pathlib import Path

import docker
import docker.errors
import pulumi

from tests import provider_rules as rules
from tests.e2e import realize
from tests.e2e.containers import UnsupportedInput, check_keys
from tests.e2e.realize import Realizer, State, digest, log, unwrap
from tests.mocked import run_program

SERVICE = "docker:index/service:Service"
SECRET = "docker:index/secret:Secret"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
RANDOM_ID = "random:index/randomId:RandomId"
# Removal order: services first, so secrets, configs and networks are free to go.
SWARM_ORDER = [SERVICE, SECRET, CONFIG, RANDOM_ID]
_DURATION = re.compile(r"^(\d+)(ns|us|ms|s|m|h)$")
_NS = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def ns(text: str) -> int:
    found = _DURATION.match(text)
    if not found:
        raise UnsupportedInput(f"duration {text!r} is not one number and one unit")
    return int(found.group(1)) * _NS[found.group(2)]


def pairs(items: list[dict] | None) -> dict[str, str]:
    return {item["label"]: item["value"] for item in items or []}


def image_ref(client: docker.DockerClient, ref: str) -> str:
    """A pinned reference the engine has under its digest, or the labelled stand-in's tag."""
    local = realize.local_tag(ref)
    if "@" not in ref:
        return ref
    image = client.images.get(local)  # raises ImageNotFound loudly
    if image.labels.get("org.ora.standin") == "true":
        log(f"STAND-IN: {ref} -> {local}")
    return local


def container_spec(client, key: str, spec: dict) -> dict:
    check_keys(
        key,
        spec,
        {
            "image", "args", "user", "env", "labels", "capDrops", "capAdds", "readOnly",
            "healthcheck", "stopGracePeriod", "mounts", "secrets", "configs",
        },
    )  # fmt: skip
    check = spec["healthcheck"]
    check_keys(
        f"{key}.healthcheck", check, {"tests", "interval", "timeout", "retries", "startPeriod"}
    )
    return {
        "Image": image_ref(client, spec["image"]),
        "Args": spec.get("args"),
        "User": spec.get("user"),
        "Env": [f"{k}={v}" for k, v in (spec.get("env") or {}).items()],
        "Labels": pairs(spec.get("labels")),
        "CapabilityDrop": spec.get("capDrops"),
        "CapabilityAdd": spec.get("capAdds"),
        "ReadOnly": bool(spec.get("readOnly")),
        "Healthcheck": {
            "Test": check["tests"],
            "Interval": ns(check["interval"]),
            "Timeout": ns(check["timeout"]),
            "Retries": int(check["retries"]),
            "StartPeriod": ns(check["startPeriod"]),
        },
        "StopGracePeriod": ns(spec["stopGracePeriod"]),
        "Mounts": [mount(key, m) for m in spec.get("mounts") or []],
        "Secrets": [file_ref(s, "Secret") for s in spec.get("secrets") or []],
        "Configs": [file_ref(c, "Config") for c in spec.get("configs") or []],
    }


def mount(key: str, m: dict) -> dict:
    check_keys(f"{key}.mount", m, {"target", "type", "source", "readOnly", "tmpfsOptions"})
    found = {"Type": m["type"], "Target": m["target"], "ReadOnly": bool(m.get("readOnly"))}
    if m["type"] == "volume":
        found["Source"] = m["source"]
    elif m["type"] == "tmpfs":
        size = (m.get("tmpfsOptions") or {}).get("sizeBytes")
        found["TmpfsOptions"] = {"SizeBytes": int(size)} if size else {}
    else:
        raise UnsupportedInput(f"{key}: mount type {m['type']!r}")
    return found


def file_ref(item: dict, kind: str) -> dict:
    low = kind.lower()
    return {
        f"{kind}ID": item[f"{low}Id"],
        f"{kind}Name": item[f"{low}Name"],
        "File": {
            "Name": item["fileName"],
            "UID": item["fileUid"],
            "GID": item["fileGid"],
            "Mode": int(item["fileMode"]),
        },
    }


def update_config(config: dict) -> dict:
    return {
        "Parallelism": int(config["parallelism"]),
        "Delay": ns(config["delay"]),
        "FailureAction": config["failureAction"],
        "Monitor": ns(config["monitor"]),
        "MaxFailureRatio": float(config["maxFailureRatio"]),
        "Order": config["order"],
    }


def service_request(client, key: str, inputs: dict) -> dict:
    check_keys(
        key,
        inputs,
        {
            "name", "labels", "mode", "taskSpec", "updateConfig", "rollbackConfig",
            "endpointSpec", "convergeConfig",
        },
    )  # fmt: skip
    task = inputs["taskSpec"]
    check_keys(
        f"{key}.taskSpec",
        task,
        {
            "containerSpec",
            "resources",
            "restartPolicy",
            "logDriver",
            "placement",
            "networksAdvanceds",
        },
    )
    mode = inputs["mode"]
    placement = task.get("placement") or {}
    endpoint = inputs["endpointSpec"]
    return {
        "name": inputs["name"],
        "labels": pairs(inputs.get("labels")),
        "mode": {"Global": {}}
        if mode.get("global")
        else {"Replicated": {"Replicas": int(mode["replicated"]["replicas"])}},
        "task_template": {
            "ContainerSpec": container_spec(client, key, task["containerSpec"]),
            "Resources": {
                "Limits": {"MemoryBytes": int(task["resources"]["limits"]["memoryBytes"])}
            },
            "RestartPolicy": {
                "Condition": task["restartPolicy"]["condition"],
                "Delay": ns(task["restartPolicy"]["delay"]),
            },
            "LogDriver": {
                "Name": task["logDriver"]["name"],
                "Options": task["logDriver"]["options"],
            },
            "Placement": {
                "Constraints": placement.get("constraints") or [],
                "MaxReplicas": int(placement.get("maxReplicas") or 0),
            },
            "Networks": [
                {"Target": n["id"], "Aliases": n.get("aliases") or []}
                for n in task.get("networksAdvanceds") or []
            ],
        },
        "update_config": update_config(inputs["updateConfig"]),
        "rollback_config": update_config(inputs["rollbackConfig"]),
        "endpoint_spec": {
            "Mode": endpoint["mode"],
            "Ports": [
                {
                    "Protocol": p["protocol"],
                    "TargetPort": int(p["targetPort"]),
                    "PublishedPort": int(p["publishedPort"]),
                    "PublishMode": p["publishMode"],
                }
                for p in endpoint.get("ports") or []
            ],
        },
    }


class SwarmRealizer(Realizer):
    def _realize(self, args: pulumi.runtime.MockResourceArgs):
        handler = SWARM_HANDLERS.get(args.typ)
        if handler is None:
            return super()._realize(args)
        key = f"{args.typ}::{args.name}"
        inputs = unwrap(dict(args.inputs))
        if problems := rules.check(args.typ, inputs):
            raise RuntimeError(f"{key}: the provider's check failed: {'; '.join(problems)}")
        self.declared.add(key)
        previous = self.state.data.get(key)
        if previous and previous["hash"] == digest(inputs):
            return previous["id"], previous["outputs"]
        rid, outputs = handler(self, key, inputs, previous)
        self.state.put(
            key, {"type": args.typ, "id": rid, "hash": digest(inputs), "outputs": outputs}
        )
        return rid, outputs

    def random_id(self, key, inputs, _previous):
        check_keys(key, inputs, {"byteLength", "keepers"})
        value = secrets.token_bytes(int(inputs["byteLength"]))
        return f"{key}-generated", {**inputs, "hex": value.hex()}

    def secret(self, key, inputs, _previous):
        check_keys(key, inputs, {"name", "data", "labels"})
        data = base64.b64decode(inputs["data"])
        created = self.client.api.create_secret(
            inputs["name"], data, labels=pairs(inputs.get("labels"))
        )
        return created["ID"], {**inputs, "id": created["ID"]}

    def config(self, key, inputs, _previous):
        check_keys(key, inputs, {"name", "data", "labels"})
        data = base64.b64decode(inputs["data"])
        created = self.client.api.create_config(
            inputs["name"], data, labels=pairs(inputs.get("labels"))
        )
        return created["ID"], {**inputs, "id": created["ID"]}

    def service(self, key, inputs, previous):
        request = service_request(self.client, key, inputs)
        started = time.monotonic()
        if previous:
            found = self.client.api.inspect_service(previous["id"])
            self.client.api.update_service(previous["id"], found["Version"]["Index"], **request)
            sid = previous["id"]
            log(f"service {inputs['name']} updated; rolling")
        else:
            sid = self.client.api.create_service(**request)["ID"]
            log(f"service {inputs['name']} created")
        converge_config = inputs.get("convergeConfig")
        if converge_config:
            first_look = rules.CONVERGE_FIRST_LOOK
            if not previous:  # at create, the provider first looks after the config's delay
                first_look = ns(converge_config.get("delay", "7s")) / 1e9
            provider_wait(self.client, sid, ns(converge_config["timeout"]) / 1e9, first_look)
            log(f"service {inputs['name']} converged in {time.monotonic() - started:.1f} s")
        return sid, {**inputs, "id": sid}

    def finish(self) -> None:
        leftovers = [e for k, e in self.state.data.items() if k not in self.declared]
        for entry in sorted(leftovers, key=rank):
            remove(self.client, entry)
        super().finish()


SWARM_HANDLERS = {
    SERVICE: SwarmRealizer.service,
    SECRET: SwarmRealizer.secret,
    CONFIG: SwarmRealizer.config,
    RANDOM_ID: SwarmRealizer.random_id,
}


def provider_wait(client: docker.DockerClient, sid: str, timeout: float, first_look: float):
    """pulumi-docker's wait for a replicated service with `convergeConfig` (the rules in
    tests/provider_rules.py): first look after `first_look` s, then every 5 s."""
    deadline = time.monotonic() + timeout
    time.sleep(first_look)
    while True:
        service = client.api.inspect_service(sid)
        status = service.get("UpdateStatus") or {}
        tasks = client.api.tasks(filters={"service": sid, "desired-state": "running"})
        active = {n["ID"] for n in client.api.nodes() if n["Status"]["State"] != "down"}
        replicas = int(service["Spec"]["Mode"]["Replicated"]["Replicas"])
        name = service["Spec"]["Name"]
        try:
            if rules.converged(
                status.get("State"),
                replicas,
                rules.running_slots(tasks, active),
                status.get("Message", ""),
            ):
                return
        except RuntimeError as error:
            raise RuntimeError(f"{name}: {error}") from None
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not converge in {timeout:.0f} s")
        time.sleep(rules.CONVERGE_POLL)


def converge(client: docker.DockerClient, sid: str, timeout: float) -> None:
    """The tests' own wait, stricter than the provider's: until every desired task runs
    (healthy, where it has a healthcheck) and any rollout completed; a rollout Swarm rolled
    back or paused raises."""
    deadline = time.monotonic() + timeout
    while True:
        service = client.api.inspect_service(sid)
        update = (service.get("UpdateStatus") or {}).get("State")
        if update in ("rollback_completed", "rollback_paused", "paused"):
            message = service["UpdateStatus"].get("Message", "")
            raise RuntimeError(f"{service['Spec']['Name']}: update {update}: {message}")
        tasks = client.api.tasks(filters={"service": sid, "desired-state": "running"})
        replicated = service["Spec"]["Mode"].get("Replicated")
        want = int(replicated["Replicas"]) if replicated else max(1, len(tasks))
        # Right after an update the old tasks still run and no rollout shows yet: only
        # tasks of the current spec count.
        current = service["Spec"]["TaskTemplate"]["ContainerSpec"]
        running = [
            t
            for t in tasks
            if t["Status"]["State"] == "running" and t["Spec"]["ContainerSpec"] == current
        ]
        if len(running) == want == len(tasks) and update in (None, "completed"):
            return
        if time.monotonic() > deadline:
            states = [(t["Status"]["State"], t["Status"].get("Err", "")) for t in tasks]
            raise TimeoutError(f"{service['Spec']['Name']} did not converge: {states}, {update}")
        time.sleep(1)


def rank(entry: dict) -> int:
    kind = entry["type"]
    return SWARM_ORDER.index(kind) if kind in SWARM_ORDER else len(SWARM_ORDER)


def remove(client: docker.DockerClient, entry: dict) -> None:
    kind, rid = entry["type"], entry["id"]
    try:
        if kind == SERVICE:
            client.api.remove_service(rid)
            wait_gone(client, rid)
            log(f"service {entry['outputs']['name']} removed")
        elif kind == SECRET:
            client.api.remove_secret(rid)
        elif kind == CONFIG:
            client.api.remove_config(rid)
        else:
            realize.remove(client, entry)
    except docker.errors.NotFound:
        pass


def wait_gone(client: docker.DockerClient, sid: str, timeout: float = 60) -> None:
    """A removed service's containers stop asynchronously; networks are busy until they
    did (the manager's own; other nodes clean theirs up when they leave)."""
    deadline = time.monotonic() + timeout
    label = f"com.docker.swarm.service.id={sid}"
    while client.api.containers(all=True, filters={"label": label}):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the containers of service {sid} did not stop in {timeout} s")
        time.sleep(0.5)


def apply(project: Path, stack: str, state_path: Path, overrides: dict[str, str]) -> dict:
    state = State(state_path)
    realizer = SwarmRealizer(state)
    realizer.delete_pending()
    values = realize.stack_config(project, stack, overrides)
    program = project / "infra" / "__main__.py"
    secret = realize.secret_keys(project, values)
    outputs = run_program(realizer, stack, values, secret, program=program)
    if realizer.errors:
        realizer.keep_pending_deletes()
        raise RuntimeError("apply failed; nothing old was removed") from realizer.errors[0]
    realizer.finish()
    realize.keep_outputs(state, outputs)  # what the stack's StackReference to itself reads
    return outputs


def destroy(state_path: Path) -> None:
    state = State(state_path)
    entries = sorted(state.data.values(), key=rank)
    client = docker.from_env(timeout=300)
    try:
        for entry in [e for e in entries if e["type"] in SWARM_ORDER]:
            remove(client, entry)
        for entry in sorted(
            [e for e in entries if e["type"] not in SWARM_ORDER], key=realize.removal_rank
        ):
            realize.remove(client, entry)
    finally:
        client.close()
    state_path.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    return realize.cli(argv, "python -m tests.swarm.realize_swarm", "swarm", apply, destroy)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
