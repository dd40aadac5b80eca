"""Every container of the stack: running, healthy, pinned, unprivileged, bounded, as declared."""

from __future__ import annotations

import pytest

from infra.services import baseline
from infra.targets.swarm import spec as swarm_spec


def image_id(host, reference: str) -> str:
    """The local id of a pinned reference; a labelled stand-in answers for `name:tag@digest`
    where no registry is reachable (tests/e2e), and says so."""
    found = host.run("docker image inspect --format '{{.Id}}' %s", reference)
    if found.rc == 0:
        return found.stdout.strip()
    local = reference.split("@", 1)[0]
    standin = host.check_output(
        "docker image inspect --format '{{.Id}} {{index .Config.Labels \"org.ora.standin\"}}' %s",
        local,
    )
    image, is_standin = standin.split()
    assert is_standin == "true", (
        f"{reference} is not on the host and {local} is not a labelled stand-in"
    )
    print(f"STAND-IN: {reference} -> {local}")
    return image


def test_running_and_healthy(inspected, container_name):
    state = inspected["State"]
    assert state["Running"], f"{container_name}: {state['Status']}"
    assert state["Health"]["Status"] == "healthy", (
        f"{container_name}: {state['Health']['Log'][-1:]}"
    )


def test_runs_the_pinned_image(host, inspected, service, outputs):
    key = "app" if service in ("worker",) or service.startswith("app-") else service
    assert inspected["Image"] == image_id(host, outputs["images"][key])


def process_uids(host, container_name) -> set[str]:
    """The UIDs of every process in the container (docker top needs the PID column)."""
    rows = host.check_output("docker top %s -eo pid,uid", container_name).splitlines()[1:]
    return {row.split()[1] for row in rows if row.strip()}


def test_processes_run_as_the_declared_user(host, container_name, spec):
    declared = (spec.plain("user") or "0:0").split(":")[0]
    uids = process_uids(host, container_name)
    assert uids == {declared}, f"{container_name}: uids {sorted(uids)}"


def test_non_root_except_qdrant(host, container_name, service):
    # Qdrant's official image runs as root; it has every capability dropped and no-new-privileges.
    uids = process_uids(host, container_name)
    assert ("0" in uids) == (service == "qdrant"), f"{container_name}: uids {sorted(uids)}"


@pytest.mark.host_only("Swarm restarts the tasks (the service's restart policy), not dockerd")
def test_restart_policy(inspected, spec):
    assert (
        inspected["HostConfig"]["RestartPolicy"]["Name"]
        == spec.plain("restart")
        == baseline.RESTART
    )


def test_logs_rotate(inspected, spec):
    log = inspected["HostConfig"]["LogConfig"]
    assert log["Type"] == spec.plain("logDriver") == "json-file"
    assert log["Config"] == spec.plain("logOpts") == baseline.LOG_OPTS


def test_capabilities_dropped(inspected, spec):
    caps = spec.plain("capabilities")
    assert inspected["HostConfig"]["CapDrop"] == caps["drops"] == ["ALL"]
    assert (inspected["HostConfig"]["CapAdd"] or None) == (caps.get("adds") or None)


@pytest.mark.swarm_only("dockerd restarts the host's containers (test_restart_policy)")
def test_the_task_is_left_to_swarm_to_restart(inspected, container_name):
    """A task's container has no restart policy of its own: Swarm replaces a task that
    exits (the service's policy, tests/infra/test_swarm_objects.py), dockerd never restarts it."""
    assert inspected["Config"]["Labels"].get("com.docker.swarm.task.id"), container_name
    assert inspected["HostConfig"]["RestartPolicy"]["Name"] in ("", "no"), container_name


@pytest.mark.host_only(swarm_spec.NOT_IN_SWARM["security_opts"])
def test_no_new_privileges(inspected):
    assert "no-new-privileges:true" in inspected["HostConfig"]["SecurityOpt"]


# Linux's capability numbers (include/uapi/linux/capability.h), by Docker's names.
CAPABILITY_BITS = {
    name: bit
    for bit, name in enumerate(
        (
            "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
            "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
            "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
            "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
            "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
            "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
            "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
        )
    )
}  # fmt: skip


def capability_mask(names) -> int:
    return sum(1 << CAPABILITY_BITS[n.upper().removeprefix("CAP_")] for n in names or ())


def test_no_process_can_gain_a_capability(host, container_name, spec):
    """What no-new-privileges guards, as the kernel keeps it on either target (Swarm cannot
    set the option): process 1's bounding set holds the declared adds and nothing else, so
    no process of the container, not even one that runs a setuid-root binary, ever holds
    another capability; and none holds one now beyond the adds."""
    status = host.check_output("docker exec %s cat /proc/1/status", container_name)
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    allowed = capability_mask(spec.plain("capabilities").get("adds"))
    bounding, effective = int(fields["CapBnd"], 16), int(fields["CapEff"], 16)
    assert bounding == allowed, f"{container_name}: CapBnd {bounding:#x}, declared {allowed:#x}"
    assert effective & ~allowed == 0, f"{container_name}: CapEff {effective:#x}"


def test_root_filesystem_as_declared(inspected, spec):
    assert inspected["HostConfig"]["ReadonlyRootfs"] == bool(spec.plain("readOnly"))


def test_memory_limit_as_declared(inspected, spec):
    assert inspected["HostConfig"]["Memory"] == int(spec.plain("memory")) * 1024 * 1024


@pytest.mark.parametrize("label", ["org.ora.project", "org.ora.stack", "org.ora.service"])
def test_labelled(inspected, spec, label):
    declared = {i["label"]: i["value"] for i in spec.plain("labels")}
    assert inspected["Config"]["Labels"][label] == declared[label]
