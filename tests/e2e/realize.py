"""Realizes the Pulumi program on a Docker engine: a `Mocks` whose `new_resource` is real.

The stand-in for `pulumi up` where the real toolchain cannot be had: the Go module proxy
of our machines serves the Pulumi CLI but neither the Python language host nor any
provider plugin (README, "The engine"). The real program (infra/__main__.py) runs under
`pulumi.runtime.set_mocks`; every resource it declares is created through the Docker
Engine API with its inputs exactly as declared. Unknown resource types or input keys raise.

It acts as the engine and pulumi-docker do, by the rules in tests/provider_rules.py (read
in their source), with the options each registration carries (tests/mocked.py):
- unchanged inputs: nothing is done, and nothing is read back (no drift healing: a plain
  `pulumi up` does not refresh);
- changed inputs that the provider updates in place (a container's memory, restart
  policy, wait, grace...): updated in place;
- any other change replaces. Delete-before-replace when the program says so, or when it
  says nothing and the provider's default is to (every container): the dependents the
  engine would replace are deleted first, then the resource, then it is created. Else
  create-before-delete: the new one is created (a name clash fails, as in Docker) and the
  old one is deleted at the end of the apply, after every registration;
- a container is deleted as the provider deletes it: stopped with `destroyGraceSeconds`
  (0 when unset; an `attach` one-shot is not stopped), then removed with force;
- an upload with no content is refused before the container is created;
- built images are kept on delete, as pulumi-docker keeps them.

What it does not model: a failed create is removed, where the provider keeps it in state
for the next update to replace; the update's parallelism (registrations are realized in
the order the program makes them). Every deploy check of tests/e2e (redeploy, edge
change, rejected config, rollback, soak, backup drills) still runs on it.

State (JSON, mode 0600: it holds generated secrets) keeps each resource's inputs, outputs,
URN and property dependencies, so a second apply is an update.

    python -m tests.e2e.realize apply   --project DIR --stack dev --state FILE --outputs FILE
    python -m tests.e2e.realize destroy --state FILE
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pulumi
import yaml
from pulumi.runtime import rpc

from tests import provider_rules as rules
from tests.e2e import containers, generated
from tests.e2e.containers import UnsupportedInput, check_keys
from tests.e2e.standins import build as standin_build
from tests.mocked import Options, run_program

CONTAINER = "docker:index/container:Container"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
# The stack's outputs of its last successful apply, kept in state under this key: what a
# StackReference to the stack itself reads (infra/deploys.py), as the Pulumi backend serves.
OUTPUTS_KEY = "pulumi:pulumi:Stack::outputs"
PENDING_DELETE = "pending-delete::"  # state keys of what a failed update left to delete
ORDER = [
    "docker:index/container:Container",
    "docker:index/image:Image",
    "docker:index/network:Network",
    "docker:index/volume:Volume",
]


def log(message: str) -> None:
    print(f"[realize] {message}", flush=True)


def unwrap(value: Any) -> Any:
    """Plain value of deserialized inputs; secrets arrive wrapped with Pulumi's secret sig."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return unwrap(value["value"])
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def digest(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.data: dict[str, dict] = json.loads(path.read_text()) if path.exists() else {}

    def save(self) -> None:
        with self.lock:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            tmp.chmod(0o600)
            tmp.replace(self.path)

    def put(self, key: str, entry: dict) -> None:
        with self.lock:
            self.data[key] = entry
        self.save()


class Realizer(pulumi.runtime.Mocks):
    def __init__(self, state: State) -> None:
        self.state = state
        self.declared: set[str] = set()
        self.retired: list[dict] = []  # replaced create-before-delete: removed at the end
        self.errors: list[BaseException] = []
        self.client = docker.from_env(timeout=300)
        self.options: dict[tuple[str, str], Options] = {}  # filled by tests/mocked.Monitor

    def call(self, args: pulumi.runtime.MockCallArgs):
        raise UnsupportedInput(
            f"the program made a provider call the harness cannot serve: {args.token}"
        )

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        try:
            return self._realize(args)
        except BaseException as error:  # the SDK would only log it; the apply must fail
            self.errors.append(error)
            raise

    def _realize(self, args: pulumi.runtime.MockResourceArgs):
        key = f"{args.typ}::{args.name}"
        if args.typ == STACK_REFERENCE:
            return self.stack_reference(key, unwrap(dict(args.inputs)))
        if not args.custom:
            if args.typ.startswith("ora:infra:"):
                return args.name, {}
            raise UnsupportedInput(f"{key}: component type outside ora:infra:*")
        handler = HANDLERS.get(args.typ)
        if handler is None:
            raise UnsupportedInput(f"{key}: resource type not realized by the e2e harness")
        inputs = unwrap(dict(args.inputs))
        options = self.options[(args.typ, args.name)]
        self.declared.add(key)
        recorded = {
            "type": args.typ,
            "urn": options.urn,
            "dependencies": {k: list(v) for k, v in options.property_dependencies.items()},
        }
        previous = self.state.data.get(key)
        if previous:
            changed = rules.changed_keys(previous.get("inputs", {}), inputs)
            if not changed:
                self.state.put(key, {**previous, **recorded})
                return previous["id"], previous["outputs"]
            if not rules.replacing_keys(args.typ, changed):
                outputs = self.update_in_place(key, previous, inputs, changed)
                self.state.put(key, {**previous, **recorded, "inputs": inputs, "outputs": outputs})
                return previous["id"], outputs
            if rules.deletes_before_replace(args.typ, options.delete_before_replace):
                forcing = sorted(rules.replacing_keys(args.typ, changed))
                log(f"{key}: replaced, deleted first ({forcing})")
                self.delete_dependents(previous)
                self.delete(key)
            else:
                self.retired.append(previous)
        if problems := rules.check(args.typ, inputs):
            raise RuntimeError(f"{key}: the provider's check failed: {'; '.join(problems)}")
        if args.typ == CONTAINER and (empty := rules.empty_uploads(inputs)):
            raise RuntimeError(
                f"{key}: error with upload content: one of 'content', 'content_base64', or "
                f"'source' must be set ({empty})"
            )
        rid, outputs = handler(self, key, inputs, None)
        self.state.put(key, {**recorded, "id": rid, "inputs": inputs, "outputs": outputs})
        return rid, outputs

    def update_in_place(self, key: str, previous: dict, inputs: dict, changed: set[str]) -> dict:
        """The provider's update of fields without ForceNew: Docker's own update for a
        running container's limits and restart policy; the rest are the provider's own."""
        if previous["type"] == CONTAINER and changed & {"memory", "memorySwap", "restart"}:
            self.client.api.update_container(
                previous["id"],
                mem_limit=f"{inputs['memory']}m" if inputs.get("memory") else None,
                memswap_limit=f"{inputs['memorySwap']}m" if inputs.get("memorySwap") else None,
                restart_policy={"Name": inputs["restart"]} if inputs.get("restart") else None,
            )
        log(f"{key}: updated in place ({sorted(changed)})")
        return {**previous["outputs"], **inputs}

    def delete_dependents(self, root: dict) -> None:
        """The engine's dependent replacements of a delete-before-replace: deleted first,
        in reverse dependency order, and so created anew when the program registers them."""
        by_urn = {e["urn"]: k for k, e in self.state.data.items() if e.get("urn")}
        dependents = {
            e["urn"]: e.get("dependencies", {}) for e in self.state.data.values() if e.get("urn")
        }
        types = {e["urn"]: e["type"] for e in self.state.data.values() if e.get("urn")}
        for urn in reversed(rules.cascade(root["urn"], dependents, types)):
            log(f"{by_urn[urn]}: deleted first, it depends on {root['urn']} (replaced)")
            self.delete(by_urn[urn])

    def delete(self, key: str) -> None:
        entry = self.state.data.get(key)
        if entry:
            remove(self.client, entry)
            with self.state.lock:
                self.state.data.pop(key, None)
            self.state.save()

    # -- handlers: (self, key, inputs, previous) -> (id, outputs) ----------------------------
    def provider(self, key, inputs, _previous):
        check_keys(key, inputs, {"host", "sshOpts", "version"})
        if inputs.get("host"):
            raise UnsupportedInput(
                f"{key}: remote engines ({inputs['host']}) need the Pulumi CLI path"
            )
        return "local-engine", inputs

    def network(self, key, inputs, _previous):
        check_keys(
            key,
            inputs,
            {"name", "driver", "internal", "labels", "attachable", "options", "ipamConfigs"},
        )
        labels = {item["label"]: item["value"] for item in inputs.get("labels", [])}
        pools = []
        for pool in inputs.get("ipamConfigs", []):
            check_keys(f"{key}.ipamConfigs", pool, {"subnet", "ipRange", "gateway"})
            pools.append(
                docker.types.IPAMPool(
                    subnet=pool.get("subnet"),
                    iprange=pool.get("ipRange"),
                    gateway=pool.get("gateway"),
                )
            )
        net = self.client.networks.create(
            inputs["name"],
            driver=inputs.get("driver", "bridge"),
            internal=bool(inputs.get("internal")),
            labels=labels,
            attachable=inputs.get("attachable"),
            options=inputs.get("options"),
            ipam=docker.types.IPAMConfig(pool_configs=pools) if pools else None,
        )
        log(f"network {inputs['name']} created")
        return net.id, {**inputs, "name": inputs["name"]}

    def volume(self, key, inputs, _previous):
        check_keys(key, inputs, {"name", "labels", "driver", "driverOpts"})
        labels = {item["label"]: item["value"] for item in inputs.get("labels", [])}
        vol = self.client.volumes.create(
            inputs["name"],
            driver=inputs.get("driver", "local"),
            driver_opts=inputs.get("driverOpts"),
            labels=labels,
        )
        return vol.name, {**inputs, "mountpoint": vol.attrs.get("Mountpoint", "")}

    def remote_image(self, key, inputs, _previous):
        check_keys(key, inputs, {"name", "keepLocally", "forceRemove", "triggers", "platform"})
        ref = inputs["name"]
        try:
            image = self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            local = local_tag(ref)
            image = self.client.images.get(local)  # raises ImageNotFound loudly
            if image.labels.get("org.ora.standin") != "true":
                raise UnsupportedInput(
                    f"{key}: {local} exists but is not a labelled stand-in"
                ) from None
            log(f"STAND-IN: {ref} -> {local} ({image.labels.get('org.ora.standin.description')})")
        return image.id, {**inputs, "imageId": image.id, "repoDigest": ref}

    def image(self, key, inputs, _previous):
        check_keys(key, inputs, {"imageName", "build", "skipPush", "buildOnPreview", "registry"})
        build = inputs.get("build") or {}
        check_keys(f"{key}.build", build, {"context", "dockerfile", "platform", "args", "target"})
        if not inputs.get("skipPush"):
            raise UnsupportedInput(f"{key}: pushing to a registry is not realized here")
        started = time.monotonic()
        dockerfile = Path(build["context"]) / (build.get("dockerfile") or "Dockerfile")
        # A digest-pinned base cannot be pulled here: its labelled stand-in, by tag.
        args = {**standin_build.base_image_args(dockerfile), **(build.get("args") or {})}
        try:
            image, _logs = self.client.images.build(
                path=build["context"],
                dockerfile=build.get("dockerfile"),
                tag=inputs["imageName"],
                platform=build.get("platform"),
                buildargs=args or None,
                target=build.get("target"),
                rm=True,
                forcerm=True,
            )
        except docker.errors.BuildError as error:  # say why: the build's last lines
            tail = "".join(str(c.get("stream") or c.get("error") or "") for c in error.build_log)
            raise RuntimeError(f"{key}: build failed:\n{tail[-3000:]}") from error
        log(f"image {inputs['imageName']} built in {time.monotonic() - started:.1f} s")
        return image.id, {**inputs, "repoDigest": "", "baseImageName": inputs["imageName"]}

    def container(self, key, inputs, _previous):
        spec = containers.spec(key, inputs, self.client.api, engine_nofile_limit())
        cid = self.client.api.create_container(
            networking_config=self._first_network(spec), **spec.create
        )["Id"]
        try:
            for net in spec.networks[1:]:
                self.client.api.connect_container_to_network(
                    cid,
                    net["name"],
                    aliases=net.get("aliases"),
                    ipv4_address=net.get("ipv4Address"),
                )
            if spec.uploads:
                self.client.api.put_archive(cid, "/", spec.tar)
            self.client.api.start(cid)
            if spec.wait:
                wait_healthy(self.client, spec.name, spec.wait_timeout)
            exit_code, run_logs = None, None
            if spec.attach:
                # pulumi-docker's `attach`: wait for the end of the run, record its exit
                # code (and with `logs` its output), and leave the verdict to the program.
                exit_code = self.client.api.wait(cid, timeout=300)["StatusCode"]
                if inputs.get("logs"):
                    run_logs = self.client.api.logs(cid).decode(errors="replace")
                log(f"container {spec.name} ran to completion: exit code {exit_code}")
        except Exception:
            log(f"container {spec.name} failed; its logs:\n{self._logs(cid)}")
            self.client.api.remove_container(cid, force=True, v=True)
            raise
        outputs = {"id": cid, "exitCode": exit_code, "containerLogs": run_logs}
        return cid, {**inputs, **outputs, "networkDatas": self._network_datas(cid)}

    def _network_datas(self, cid: str) -> list[dict]:
        """pulumi-docker's `network_datas` output: each network's address, as inspected."""
        networks = self.client.api.inspect_container(cid)["NetworkSettings"]["Networks"]
        return [
            {
                "networkName": name,
                "ipAddress": net.get("IPAddress", ""),
                "ipPrefixLength": net.get("IPPrefixLen", 0),
                "gateway": net.get("Gateway", ""),
                "macAddress": net.get("MacAddress", ""),
                "globalIpv6Address": net.get("GlobalIPv6Address", ""),
                "globalIpv6PrefixLength": net.get("GlobalIPv6PrefixLen", 0),
                "ipv6Gateway": net.get("IPv6Gateway", ""),
            }
            for name, net in sorted(networks.items())
        ]

    def _logs(self, cid: str) -> str:
        return self.client.api.logs(cid, tail=30).decode(errors="replace")

    def _first_network(self, spec) -> dict | None:
        if not spec.networks:
            return None
        first = spec.networks[0]
        endpoint = self.client.api.create_endpoint_config(
            aliases=first.get("aliases"), ipv4_address=first.get("ipv4Address")
        )
        return self.client.api.create_networking_config({first["name"]: endpoint})

    def stack_reference(self, key, inputs):
        """Only the stack itself can be referenced: its outputs of the last apply."""
        check_keys(key, inputs, {"name"})
        project, stack = inputs["name"].split("/")[-2:]
        if (project, stack) != (pulumi.get_project(), pulumi.get_stack()):
            raise UnsupportedInput(f"{key}: a reference to another stack is not realized here")
        previous = self.state.data.get(OUTPUTS_KEY, {}).get("outputs", {})
        return inputs["name"], {**inputs, "outputs": previous, "secretOutputNames": []}

    def command(self, key, inputs, _previous):
        from tests.e2e.remote import run_command

        return key, run_command(key, inputs)

    # -- removal --------------------------------------------------------------------------
    def delete_pending(self) -> None:
        """The engine's first step: the pending deletes a failed update left are deleted
        before anything is registered (its `GeneratePendingDeletes`), so a name they hold is
        free again, e.g. for a one-shot whose inputs went back to an earlier run's."""
        for key in [k for k in self.state.data if k.startswith(PENDING_DELETE)]:
            log(f"{key}: pending delete of a failed update, deleted first")
            self.delete(key)

    def keep_pending_deletes(self) -> None:
        """A failed apply removes nothing, but what it replaced stays owned: like Pulumi's
        pending deletes, the next apply (or destroy) removes it."""
        for entry in self.retired:
            self.state.put(f"{PENDING_DELETE}{entry['id']}", entry)
        self.retired = []

    def finish(self) -> None:
        """Removes what this apply no longer declares: containers first, then the rest."""
        leftovers = [e for k, e in self.state.data.items() if k not in self.declared]
        for entry in self.retired + sorted(leftovers, key=removal_rank):
            remove(self.client, entry)
        with self.state.lock:
            self.state.data = {k: v for k, v in self.state.data.items() if k in self.declared}
        self.state.save()


def _generator(kind):
    """Random and TLS values: generated once, then kept in state like Pulumi keeps them."""
    return lambda _realizer, key, inputs, _previous: (f"{key}-generated", kind(key, inputs))


HANDLERS = {
    "pulumi:providers:docker": Realizer.provider,
    "docker:index/network:Network": Realizer.network,
    "docker:index/volume:Volume": Realizer.volume,
    "docker:index/remoteImage:RemoteImage": Realizer.remote_image,
    "docker:index/image:Image": Realizer.image,
    CONTAINER: Realizer.container,
    "random:index/randomPassword:RandomPassword": _generator(generated.random_password),
    "tls:index/privateKey:PrivateKey": _generator(generated.private_key),
    "tls:index/selfSignedCert:SelfSignedCert": _generator(generated.self_signed_cert),
    "command:remote:Command": Realizer.command,
}


def engine_nofile_limit() -> int | None:
    """The local dockerd's hard RLIMIT_NOFILE, or None when it cannot be read."""
    found = subprocess.run(
        ["pgrep", "-x", "dockerd"], capture_output=True, text=True
    ).stdout.split()
    try:
        limits = Path(f"/proc/{found[0]}/limits").read_text()
    except (IndexError, OSError):
        return None
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    hard = line.split()[4]
    return None if hard == "unlimited" else int(hard)


def local_tag(ref: str) -> str:
    """`name:tag@sha256:…` -> `name:tag`: a local tag cannot carry a registry digest."""
    name = ref.split("@", 1)[0]
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def removal_rank(entry: dict) -> int:
    return ORDER.index(entry["type"]) if entry["type"] in ORDER else len(ORDER)


def remove(client: docker.DockerClient, entry: dict) -> None:
    kind, rid = entry["type"], entry["id"]
    try:
        if kind == CONTAINER:
            found = client.containers.get(rid)
            inputs = entry.get("inputs", entry["outputs"])
            grace = rules.delete_grace_seconds(inputs)
            started = time.monotonic()
            if grace is not None:
                found.stop(timeout=grace)
            found.remove(v=bool(inputs.get("removeVolumes", True)), force=True)
            took = time.monotonic() - started
            log(f"container {found.name} removed ({took:.1f} s, grace {grace})")
        elif kind == "docker:index/network:Network":
            remove_network(client, rid)
        elif kind == "docker:index/volume:Volume":
            client.volumes.get(rid).remove(force=True)
        elif kind == "docker:index/image:Image":
            log(f"image {rid[:19]} kept: pulumi-docker's Image delete leaves the local image")
    except docker.errors.NotFound:
        pass


class StaleEndpoints(RuntimeError):
    """A network Docker will not remove: the endpoints it still counts, as inspected."""

    def __init__(self, network: str, endpoints: list[str]):
        self.network, self.endpoints = network, endpoints
        super().__init__(
            f"network {network} still has active endpoints: {endpoints or 'none listed'}. "
            "None is a container that exists: the engine holds a stale endpoint, which "
            "only a restart of dockerd clears (systemctl restart docker)."
        )


def _endpoints(client: docker.DockerClient, network) -> list[str]:
    network.reload()
    found = []
    for cid, endpoint in sorted((network.attrs.get("Containers") or {}).items()):
        try:
            state = client.api.inspect_container(cid)["State"]["Status"]
        except docker.errors.NotFound:
            state = "no such container"
        found.append(f"{endpoint.get('Name')} ({cid[:12]}, {state})")
    return found


def remove_network(client: docker.DockerClient, network_id: str, timeout: float = 30) -> None:
    """Removes a network, retrying while Docker still counts an endpoint on it (as
    pulumi-docker's delete does). Docker 20.10 can keep a removed container's endpoint for a
    while, or for good (a stale endpoint): each one it lists is disconnected by force."""
    deadline = time.monotonic() + timeout
    while True:
        network = client.networks.get(network_id)
        try:
            network.remove()
            return
        except docker.errors.APIError as error:
            if "active endpoints" not in str(error.explanation):
                raise
            if time.monotonic() > deadline:
                raise StaleEndpoints(network.name, _endpoints(client, network)) from error
        for endpoint in (network.attrs.get("Containers") or {}).values():
            log(f"network {network.name}: disconnecting endpoint {endpoint.get('Name')} by force")
            try:
                client.api.disconnect_container_from_network(
                    endpoint.get("Name"), network_id, force=True
                )
            except docker.errors.APIError as error:
                log(f"network {network.name}: {error.explanation}")
        time.sleep(1)


def wait_healthy(client: docker.DockerClient, name: str, timeout: float) -> float:
    """Polls State.Health until healthy; raises with the last probe output otherwise."""
    started = time.monotonic()
    while True:
        state = client.api.inspect_container(name)["State"]
        health = (state.get("Health") or {}).get("Status")
        if health == "healthy" or (health is None and state["Running"]):
            return time.monotonic() - started
        if state["Status"] in ("exited", "dead") and not state.get("Restarting"):
            tail = client.api.logs(name, tail=20).decode(errors="replace")
            raise RuntimeError(f"container {name} exited ({state['ExitCode']}):\n{tail}")
        if time.monotonic() - started > timeout:
            probes = (state.get("Health") or {}).get("Log") or [{}]
            raise TimeoutError(f"{name} not healthy after {timeout} s: {probes[-1].get('Output')}")
        time.sleep(0.5)


def stack_config(project: Path, stack: str, overrides: dict[str, str]) -> dict[str, str]:
    raw = yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text()).get("config") or {}
    values = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}
    if any(isinstance(v, dict) for v in raw.values()):
        raise UnsupportedInput("secure: config values need the Pulumi CLI path")
    return {**values, **{f"ora:{k}": v for k, v in overrides.items()}}


def secret_keys(project: Path, values: dict[str, str]) -> list[str]:
    """The keys of `values` Pulumi.yaml declares secret: set by the e2e (e.g. smtpPassword),
    they are secure values, as `pulumi config set --secret` makes them. (Read from the
    project's Pulumi.yaml: importing `infra` here would make the program resolve its
    files, app/ included, in this repo instead of the project.)"""
    declared = yaml.safe_load((project / "Pulumi.yaml").read_text())["config"]
    secret = {k for k, v in declared.items() if isinstance(v, dict) and v.get("secret")}
    return [k for k in values if k.removeprefix("ora:") in secret]


def apply(project: Path, stack: str, state_path: Path, overrides: dict[str, str]) -> dict[str, Any]:
    state = State(state_path)
    realizer = Realizer(state)
    realizer.delete_pending()
    outputs: dict[str, Any] = {}
    try:
        values = stack_config(project, stack, overrides)
        program = project / "infra" / "__main__.py"
        outputs = run_program(
            realizer, stack, values, secret_keys(project, values), program=program
        )
    except Exception:
        realizer.keep_pending_deletes()
        if not realizer.errors:
            raise
    if realizer.errors:
        realizer.keep_pending_deletes()
        raise RuntimeError("apply failed; nothing old was removed") from realizer.errors[0]
    realizer.finish()
    keep_outputs(state, outputs)
    return outputs


def keep_outputs(state: State, outputs: dict[str, Any]) -> None:
    """The outputs of the apply in state, where the stack's reference to itself reads them."""
    plain = json.loads(json.dumps(outputs, default=str))
    state.put(OUTPUTS_KEY, {"type": "pulumi:pulumi:Stack", "id": "outputs", "outputs": plain})


def destroy(state_path: Path) -> None:
    state = State(state_path)
    client = docker.from_env(timeout=300)
    for entry in sorted(state.data.values(), key=removal_rank):
        remove(client, entry)
    state_path.unlink(missing_ok=True)


def cli(argv: list[str], prog: str, default_stack: str, apply_fn, destroy_fn) -> int:
    """The command line of a realizer: `apply` or `destroy` one stack's state file."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("action", choices=["apply", "destroy"])
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument("--stack", default=default_stack)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--outputs", type=Path)
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE config override")
    args = parser.parse_args(argv)
    if args.action == "destroy":
        destroy_fn(args.state)
        return 0
    overrides = dict(item.split("=", 1) for item in args.set)
    outputs = apply_fn(args.project.resolve(), args.stack, args.state.resolve(), overrides)
    if args.outputs:
        args.outputs.write_text(json.dumps(outputs, indent=2, default=str))
    log("apply complete")
    return 0


def main(argv: list[str]) -> int:
    return cli(argv, "python -m tests.e2e.realize", "dev", apply, destroy)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
