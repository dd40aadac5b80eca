"""A real three-node Docker Swarm on this machine, created and removed by the test.

Node 1 is the host's dockerd (the manager). Nodes 2 and 3 are dockerds inside network
namespaces of their own, started with `nsenter --net=…` (`ip netns exec` remounts /sys
and dockerd then fails: "Devices cgroup isn't mounted"), each with a UTS namespace and
hostname of its own (its name), as real nodes have: Swarm names nodes by hostname, and
`docker service logs` says which node wrote a line by that name. A bridge on the host joins a
veth pair per namespace: the bridge's address and the namespaces' ends are the only
addresses swarm traffic uses. The swarm is formed by the prod bootstrap's own scripts
(infra/bootstrap/swarm_scripts.py: init, join tokens on stdin, labels), run locally against each
node's socket instead of over SSH. Images cannot be pulled here: they reach the other nodes
with `docker save | docker load`.

`Cluster.up()` and `Cluster.down()` leave the host as they found it: down() runs every
step even when one fails (the swarm left on every node, the namespaced dockerds stopped,
their directories, namespaces, veths, the bridge and node 1's VXLAN input rules removed),
then looks for anything left (`leftovers()`) and reports it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker

from infra.bootstrap import swarm_scripts
from tests.swarm import formation

BRIDGE = "ora-swbr"
HOST_ADDR = "10.213.7.1"  # the bridge's address: node 1's advertise address
PREFIX = 24
API_VERSION = "1.41"  # Docker 20.10, Debian's docker.io
NETNS_PREFIX = "ora-swarm-"


# Run by `unshare --uts` (a new UTS namespace): names it, then becomes the command (every
# step execs, so the daemon's PID is the one started).
SET_HOSTNAME = (
    "import os, socket, sys; socket.sethostname(sys.argv[1]); os.execvp(sys.argv[2], sys.argv[2:])"
)


def run(*argv: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kwargs)


def log(message: str) -> None:
    print(f"[swarm] {message}", flush=True)


@dataclass
class NetnsNode:
    """A dockerd in a network namespace of its own, on the host's bridge."""

    name: str  # node2, node3
    index: int  # 2, 3: the last byte of its address
    workdir: Path
    daemon: subprocess.Popen | None = None
    client: docker.DockerClient | None = None

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}n{self.index}"

    @property
    def host_end(self) -> str:
        return f"ora-sw{self.index}"

    @property
    def node_end(self) -> str:
        return f"ora-sw{self.index}n"

    @property
    def address(self) -> str:
        return f"10.213.7.{self.index}"

    @property
    def root(self) -> Path:
        return self.workdir / self.name

    @property
    def socket(self) -> str:
        return f"unix://{self.root}/docker.sock"

    def link(self, up: bool) -> None:
        """Cuts (or mends) the node's only link, on the host's side: its dockerd and its
        containers run on, unreachable, as when a machine's network fails."""
        run("ip", "link", "set", self.host_end, "up" if up else "down")

    def in_netns(self, *argv: str) -> subprocess.CompletedProcess:
        return run("nsenter", f"--net=/var/run/netns/{self.netns}", *argv)

    def network(self) -> None:
        run("ip", "netns", "add", self.netns)
        run("ip", "link", "add", self.host_end, "type", "veth", "peer", "name", self.node_end)
        run("ip", "link", "set", self.host_end, "master", BRIDGE)
        run("ip", "link", "set", self.node_end, "netns", self.netns)
        run("ip", "link", "set", self.host_end, "up")
        self.in_netns("ip", "addr", "add", f"{self.address}/{PREFIX}", "dev", self.node_end)
        self.in_netns("ip", "link", "set", self.node_end, "up")
        self.in_netns("ip", "link", "set", "lo", "up")

    def start(self) -> None:
        """Starts dockerd (again: a stopped node rejoins the swarm from its data root)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.workdir / f"{self.name}-dockerd.log").open("ab") as log_file:
            self.daemon = subprocess.Popen(self._argv(), stdout=log_file, stderr=subprocess.STDOUT)
        # A fixed API version: the client asks the engine nothing until the ping.
        self.client = docker.DockerClient(base_url=self.socket, version=API_VERSION, timeout=300)
        deadline = time.monotonic() + 60
        while True:
            # Connecting before the socket exists would leak a socket (docker's unixconn).
            if Path(self.socket.removeprefix("unix://")).exists():
                try:
                    self.client.ping()
                    return
                except Exception:  # noqa: S110 - not answering yet
                    pass
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                log_path = self.workdir / f"{self.name}-dockerd.log"
                raise RuntimeError(f"{self.name}'s dockerd did not start; see {log_path}")
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM, as `systemctl stop docker` does: dockerd stops its containers and exits."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.daemon is None:
            return
        self.daemon.terminate()
        try:
            self.daemon.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()

    @property
    def running(self) -> bool:
        return self.daemon is not None and self.daemon.poll() is None

    def _argv(self) -> list[str]:
        return [
            *("unshare", "--uts", "--", sys.executable, "-c", SET_HOSTNAME, self.name),
            "nsenter",
            f"--net=/var/run/netns/{self.netns}",
            "dockerd",
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
            "--storage-driver=overlay2",
            "--data-root",
            str(self.root / "data"),
            "--exec-root",
            str(self.root / "exec"),
            "--pidfile",
            str(self.root / "dockerd.pid"),
            "-H",
            self.socket,
        ]

    def remove(self) -> None:
        """Unmounts what a killed dockerd may leave (overlay layers, containers' netns
        files), then removes its directories, its veth and its namespace."""
        for point in mounts_under(str(self.root)):
            run("umount", "-l", point, check=False)
        shutil.rmtree(self.root, ignore_errors=True)
        run("ip", "link", "del", self.host_end, check=False)
        run("ip", "netns", "del", self.netns, check=False)


def vxlan_input_rules() -> list[str]:
    """The host's INPUT rules for the overlay's VXLAN port. Docker adds a pair per encrypted
    overlay (drop unless IPsec, accept IPsec) on node 1, even with `--iptables=false`, and
    does not always take them out when the network goes. Left behind, they drop a later
    plain overlay's traffic to node 1 when it gets the same VNI."""
    listed = run("iptables", "-S", "INPUT", check=False).stdout.splitlines()
    return [rule for rule in listed if rule.startswith("-A INPUT") and "--dport 4789" in rule]


def drop_vxlan_input_rules() -> None:
    for rule in vxlan_input_rules():
        run("iptables", "-D", *shlex.split(rule)[1:])


def mounts_under(prefix: str) -> list[str]:
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return [p for p in reversed(points) if p.startswith(prefix)]


def dockerd_pids() -> dict[int, str]:
    """Every dockerd process on the machine, with its command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0].decode(errors="replace")) == "dockerd":
            found[int(entry.name)] = " ".join(a.decode(errors="replace") for a in argv if a)
    return found


@dataclass
class Cluster:
    workdir: Path
    host: docker.DockerClient = field(default_factory=lambda: docker.from_env(timeout=300))
    members: dict[str, NetnsNode] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # node name -> swarm node ID

    def __post_init__(self) -> None:
        if not self.members:
            self.members = {
                name: NetnsNode(name, index, self.workdir)
                for name, index in (("node2", 2), ("node3", 3))
            }

    @property
    def size(self) -> int:
        return 1 + len(self.members)

    def up(self) -> float:
        started = time.monotonic()
        if stale := vxlan_input_rules():
            log(f"dropping VXLAN input rules an earlier swarm left: {stale}")
            drop_vxlan_input_rules()
        if self.host.info()["Swarm"]["LocalNodeState"] != "inactive":
            raise RuntimeError("the host engine is already in a swarm; not touching it")
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "addr", "add", f"{HOST_ADDR}/{PREFIX}", "dev", BRIDGE)
        run("ip", "link", "set", BRIDGE, "up")
        for node in self.members.values():
            node.network()
            node.start()
        self.form()
        self.wait_ready(self.size)
        log(f"{self.size} nodes ready in {time.monotonic() - started:.1f} s: {self.ids}")
        return time.monotonic() - started

    def form(self) -> None:
        """The swarm formed and labelled by the prod bootstrap's scripts (formation.py)."""
        names = {HOST_ADDR: "node1", **{m.address: n for n, m in self.members.items()}}
        sockets = {
            HOST_ADDR: swarm_scripts.DEFAULT_SOCKET,
            **{m.address: m.socket.removeprefix("unix://") for m in self.members.values()},
        }
        by_address = formation.form(self.host, sockets)
        self.ids = {names[address]: node_id for address, node_id in by_address.items()}

    def load(self, node: str, tags: list[str]) -> float:
        """`docker save` on node 1 piped into `docker load` on `node`."""
        started = time.monotonic()
        save = subprocess.Popen(["docker", "save", *tags], stdout=subprocess.PIPE)
        loaded = subprocess.run(
            ["docker", "-H", self.members[node].socket, "load", "-q"],
            stdin=save.stdout,
            capture_output=True,
            text=True,
        )
        save.stdout.close()
        if save.wait() or loaded.returncode:
            raise RuntimeError(f"docker save | docker load failed: {loaded.stderr}")
        seconds = time.monotonic() - started
        log(f"loaded on {node} in {seconds:.1f} s: {' '.join(tags)}")
        return seconds

    def client(self, node_id: str) -> docker.DockerClient:
        for name, node in self.members.items():
            if self.ids.get(name) == node_id:
                return node.client
        return self.host

    def states(self) -> dict[str, str]:
        """node name -> the manager's view of it (ready, down, unknown)."""
        by_id = {n.id: n.attrs["Status"]["State"] for n in self.host.nodes.list()}
        return {name: by_id.get(node_id, "absent") for name, node_id in self.ids.items()}

    def wait_ready(self, count: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [n.attrs["Status"]["State"] for n in self.host.nodes.list()]
            if states.count("ready") == count:
                return
            time.sleep(0.5)
        raise RuntimeError(f"{count} nodes not ready after {timeout} s: {states}")

    # -- teardown ----------------------------------------------------------------------
    def down(self) -> list[str]:
        """Every step runs; returns what failed or was left (empty: the host is as it was)."""
        failed = []
        steps = [
            *[
                (
                    f"{name} leaves the swarm",
                    lambda n=node: n.client and n.client.swarm.leave(force=True),
                )
                for name, node in self.members.items()
            ],
            ("node1 leaves the swarm", lambda: self.host.swarm.leave(force=True)),
            *[(f"{name}'s dockerd stops", node.stop) for name, node in self.members.items()],
            *[(f"{name} is removed", node.remove) for name, node in self.members.items()],
            ("the bridge goes", lambda: run("ip", "link", "del", BRIDGE, check=False)),
            ("the VXLAN input rules go", drop_vxlan_input_rules),
        ]
        for what, step in steps:
            try:
                step()
            except docker.errors.APIError as error:
                if "not part of a swarm" not in str(error):
                    failed.append(f"{what}: {error}")
            except Exception as error:
                failed.append(f"{what}: {error}")
        failed += self.leftovers()
        log("torn down, nothing left" if not failed else f"teardown left: {failed}")
        return failed

    def leftovers(self) -> list[str]:
        """What of the cluster is still on the machine: namespaces, links, dockerds,
        mounts, and the host engine's swarm membership."""
        left = []
        netns_dir = Path("/var/run/netns")
        if netns_dir.exists():
            left += [
                f"namespace {p.name}"
                for p in netns_dir.iterdir()
                if p.name.startswith(NETNS_PREFIX)
            ]
        links = [BRIDGE, *[n.host_end for n in self.members.values()]]
        left += [
            f"link {link}"
            for link in links
            if run("ip", "link", "show", link, check=False).returncode == 0
        ]
        roots = [str(n.root) for n in self.members.values()]
        left += [
            f"dockerd {pid}: {argv}"
            for pid, argv in dockerd_pids().items()
            if any(root in argv for root in roots)
        ]
        for prefix in [*roots, f"/run/netns/{NETNS_PREFIX}", f"/var/run/netns/{NETNS_PREFIX}"]:
            left += [f"mount {point}" for point in mounts_under(prefix)]
        left += [f"directory {root}" for root in roots if Path(root).exists()]
        left += [f"iptables rule {rule}" for rule in vxlan_input_rules()]
        if self.host.info()["Swarm"]["LocalNodeState"] != "inactive":
            left.append("the host engine is still in a swarm")
        return left
