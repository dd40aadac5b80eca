"""Pure translation: a docker:index/container:Container's declared inputs -> Docker Engine API.

Every key the program may declare is listed here; any other key is an error,
so an input the harness does not understand can never be silently dropped.
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass, field
from typing import Any

import docker.types

CONTAINER_KEYS = {
    "name",
    "image",
    "command",
    "entrypoints",
    "user",
    "envs",
    "labels",
    "healthcheck",
    "logDriver",
    "logOpts",
    "capabilities",
    "securityOpts",
    "memory",
    "memorySwap",
    "ulimits",
    "readOnly",
    "tmpfs",
    "networksAdvanced",
    "volumes",
    "ports",
    "uploads",
    "restart",
    "stopTimeout",
    "destroyGraceSeconds",  # the provider's, on delete (tests/provider_rules.py)
    "stopSignal",
    "wait",
    "waitTimeout",
    "mustRun",
    "workingDir",
    "hostname",
    "removeVolumes",
    "attach",
    "logs",
    "networkMode",
}
NESTED_KEYS = {
    "healthcheck": {"tests", "interval", "timeout", "retries", "startPeriod", "startInterval"},
    "capabilities": {"adds", "drops"},
    "ulimits": {"name", "soft", "hard"},
    "networksAdvanced": {"name", "aliases", "ipv4Address", "ipv6Address"},
    "volumes": {"volumeName", "containerPath", "readOnly", "hostPath"},
    "ports": {"internal", "external", "ip", "protocol"},
    "uploads": {"file", "content", "contentBase64", "permissions", "owner", "group", "executable"},
    "labels": {"label", "value"},
}
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
UNIT_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


class UnsupportedInput(Exception):
    pass


def check_keys(where: str, value: dict, allowed: set[str]) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise UnsupportedInput(f"{where}: the e2e realizer does not understand {unknown}")


def nanoseconds(text: str) -> int:
    parts = DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UnsupportedInput(f"duration {text!r} is not Go duration syntax the harness reads")
    return int(sum(float(n) * UNIT_NS[u] for n, u in parts))


@dataclass
class ContainerSpec:
    name: str
    create: dict[str, Any]
    networks: list[dict[str, Any]]
    uploads: list[dict[str, Any]]
    wait: bool
    wait_timeout: int
    must_run: bool
    attach: bool = False  # run to completion: create waits for the container to exit
    tar: bytes = field(default=b"", repr=False)


def clamp_ulimits(urn: str, ulimits: list[dict], nofile_cap: int | None) -> list[dict]:
    """An engine cannot grant more open files than its own hard limit (runc: EPERM).
    Clamped loudly: a stock Docker host (systemd LimitNOFILE=infinity) grants the declared value."""
    out = []
    for item in ulimits:
        if item["name"] == "nofile" and nofile_cap and int(item["hard"]) > nofile_cap:
            print(
                f"[realize] ENGINE LIMIT: {urn} nofile {int(item['hard'])} clamped to "
                f"{nofile_cap}, the engine's own hard limit",
                flush=True,
            )
            item = {**item, "soft": min(int(item["soft"]), nofile_cap), "hard": nofile_cap}
        out.append(item)
    return out


def spec(urn: str, inputs: dict[str, Any], api, nofile_cap: int | None = None) -> ContainerSpec:
    """Builds the create_container kwargs; `api` is a docker.APIClient for host configs."""
    check_keys(urn, inputs, CONTAINER_KEYS)
    for key, allowed in NESTED_KEYS.items():
        value = inputs.get(key)
        for item in value if isinstance(value, list) else [value] if value else []:
            check_keys(f"{urn}.{key}", item, allowed)
    volumes = inputs.get("volumes", [])
    # hostPath: a bind as the provider makes it (Binds), which creates a missing directory.
    binds = {
        v["hostPath"]: {"bind": v["containerPath"], "mode": "ro" if v.get("readOnly") else "rw"}
        for v in volumes
        if v.get("hostPath")
    }
    ports = inputs.get("ports", [])
    bindings = {
        f"{int(p['internal'])}/{p.get('protocol', 'tcp')}": (
            p.get("ip", "0.0.0.0"),  # noqa: S104 - Docker's own default
            int(p["external"]),
        )
        for p in ports
    }
    memory = inputs.get("memory")
    swap = inputs.get("memorySwap")
    caps = inputs.get("capabilities") or {}
    host_config = api.create_host_config(
        port_bindings=bindings or None,
        restart_policy={"Name": inputs["restart"]} if inputs.get("restart") else None,
        log_config=docker.types.LogConfig(
            type=inputs.get("logDriver", "json-file"), config=inputs.get("logOpts") or {}
        ),
        cap_drop=caps.get("drops"),
        cap_add=caps.get("adds"),
        security_opt=inputs.get("securityOpts"),
        mem_limit=f"{int(memory)}m" if memory else None,
        memswap_limit=f"{int(swap)}m" if swap else None,
        ulimits=[
            docker.types.Ulimit(name=u["name"], soft=int(u["soft"]), hard=int(u["hard"]))
            for u in clamp_ulimits(urn, inputs.get("ulimits", []), nofile_cap)
        ]
        or None,
        read_only=bool(inputs.get("readOnly", False)),
        network_mode=inputs.get("networkMode"),
        tmpfs=inputs.get("tmpfs") or None,
        binds=binds or None,
        mounts=[
            docker.types.Mount(
                target=v["containerPath"],
                source=v.get("volumeName"),  # none: an anonymous volume
                type="volume",
                read_only=bool(v.get("readOnly", False)),
            )
            for v in volumes
            if not v.get("hostPath")
        ]
        or None,
    )
    create = {
        "image": inputs["image"],
        "name": inputs["name"],
        "command": inputs.get("command"),
        "entrypoint": inputs.get("entrypoints"),
        "user": inputs.get("user"),
        "environment": inputs.get("envs"),
        "labels": {item["label"]: item["value"] for item in inputs.get("labels", [])},
        "healthcheck": _healthcheck(inputs.get("healthcheck")),
        "ports": [int(p["internal"]) for p in ports] or None,
        "stop_timeout": int(inputs["stopTimeout"]) if "stopTimeout" in inputs else None,
        "stop_signal": inputs.get("stopSignal"),
        "working_dir": inputs.get("workingDir"),
        "hostname": inputs.get("hostname"),
        "host_config": host_config,
    }
    return ContainerSpec(
        name=inputs["name"],
        create=create,
        networks=inputs.get("networksAdvanced", []),
        uploads=inputs.get("uploads", []),
        wait=bool(inputs.get("wait", False)),
        wait_timeout=int(inputs.get("waitTimeout", 60)),
        must_run=bool(inputs.get("mustRun", True)),
        attach=bool(inputs.get("attach", False)),
        tar=upload_archive(inputs.get("uploads", [])),
    )


def _healthcheck(hc: dict | None) -> dict | None:
    if not hc:
        return None
    out = {"test": hc["tests"], "retries": int(hc.get("retries", 0))}
    for key, api_key in (
        ("interval", "interval"),
        ("timeout", "timeout"),
        ("startPeriod", "start_period"),
        ("startInterval", "start_interval"),
    ):
        if hc.get(key):
            out[api_key] = nanoseconds(hc[key])
    # docker-py's Healthcheck lacks StartInterval (API 1.44); the engine reads the raw key.
    start_interval = out.pop("start_interval", None)
    check = docker.types.Healthcheck(**out)
    if start_interval:
        check["StartInterval"] = start_interval
    return check


def upload_archive(uploads: list[dict[str, Any]]) -> bytes:
    """One tar with every declared file, its mode and owner, extracted at / before start."""
    import base64

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for item in uploads:
            if "contentBase64" in item:
                data = base64.b64decode(item["contentBase64"])
            else:
                data = str(item.get("content", "")).encode()
            info = tarfile.TarInfo(item["file"].lstrip("/"))
            info.size = len(data)
            mode = int(item["permissions"], 8) if item.get("permissions") else 0o644
            info.mode = mode | (0o111 if item.get("executable") else 0)
            info.uid = int(item.get("owner") or 0)
            info.gid = int(item.get("group") or 0)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
