"""The nginx binaries the rendered config runs on here.

- `host`: Debian bookworm's nginx (1.22, OpenSSL 3.0), older than the pinned image
  (1.29, OpenSSL 3.5). It runs the rendering for its own feature set: the fallbacks.
- `sid`: Debian sid's nginx in a chroot (debootstrap, built once per machine and cached),
  newer than the pinned image. It runs each stack's own rendering, unmodified: the real
  check of what production gets.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from infra import config
from infra.config import checks

Version = tuple[int, ...]

SID_ROOT_ENV = "ORA_NGINX_SID_ROOT"
SID_ROOT_DEFAULT = "/var/cache/ora-nginx-sid"
SID_PACKAGES = ("nginx", "openssl")  # openssl: a client that speaks X25519MLKEM768
SID_BINARIES = ("usr/sbin/nginx", "usr/bin/openssl")
DEBIAN_MIRROR = "http://deb.debian.org/debian"


@dataclasses.dataclass(frozen=True)
class NginxBinary:
    """An nginx on this machine; `chroot` None means the host's own."""

    name: str
    chroot: Path | None = None
    pinned: bool = False  # runs the stacks' pinned rendering instead of its own features

    def command(self, *args: str) -> list[str]:
        """argv that runs `args` (nginx, openssl, ...) where this nginx lives."""
        return ["chroot", str(self.chroot), *args] if self.chroot else list(args)

    @property
    def filesystem(self) -> Path:
        """Where this nginx's `/` is on the host; its files must live below it."""
        return self.chroot or Path("/")

    def path(self, host_path: Path) -> str:
        """`host_path` as this nginx sees it."""
        return str(Path("/") / host_path.relative_to(self.filesystem))

    def versions(self) -> tuple[Version, Version]:
        """(nginx, OpenSSL) versions, from `nginx -V`."""
        result = subprocess.run(
            self.command("nginx", "-V"), capture_output=True, text=True, check=True
        )
        nginx = re.search(r"nginx/(\d+\.\d+\.\d+)", result.stderr).group(1)
        openssl = re.search(r"built with OpenSSL (\d+\.\d+\.\d+)", result.stderr).group(1)
        return checks.version(nginx), checks.version(openssl)

    def feature_set(self, cfg: config.StackConfig, **edge_changes) -> config.StackConfig:
        """`cfg` (plus `edge_changes`) as this binary renders it: unmodified versions for
        the pinned binary (which must be at least as new), its own versions otherwise."""
        nginx, openssl = self.versions()
        if self.pinned:
            pinned_nginx, pinned_openssl = cfg.edge.nginx_version, cfg.edge.openssl_version
            assert nginx >= pinned_nginx and openssl >= pinned_openssl, (
                f"{self.name} nginx {nginx} / OpenSSL {openssl} is older than the stack's "
                f"pinned {pinned_nginx} / {pinned_openssl}: it cannot check that rendering"
            )
            versions = {}
        else:
            versions = {"nginx_version": nginx, "openssl_version": openssl}
        edge = dataclasses.replace(cfg.edge, **versions, **edge_changes)
        return dataclasses.replace(cfg, edge=edge)


HOST = NginxBinary("host")


def sid() -> NginxBinary:
    return NginxBinary("sid", chroot=sid_chroot(), pinned=True)


def sid_chroot() -> Path:
    """The sid chroot with nginx and openssl: $ORA_NGINX_SID_ROOT, or the machine-wide
    cache, built with debootstrap (about a minute) under a lock if it is missing."""
    root = Path(os.environ.get(SID_ROOT_ENV, SID_ROOT_DEFAULT))
    if _complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(f"{root.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs wait for the first build
        if not _complete(root):
            if root.exists():
                raise RuntimeError(
                    f"{root} exists but lacks {' or '.join(SID_BINARIES)}: remove it to "
                    f"rebuild, or point {SID_ROOT_ENV} at a sid chroot with nginx and openssl"
                )
            _debootstrap(root)
    return root


def _complete(root: Path) -> bool:
    return all((root / binary).exists() for binary in SID_BINARIES)


def _debootstrap(root: Path) -> None:
    # Built beside the cache and renamed into place: a killed build leaves no half chroot.
    build = Path(tempfile.mkdtemp(prefix=f"{root.name}.build-", dir=root.parent))
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(SID_PACKAGES)}",
        "sid",
        str(build),
        DEBIAN_MIRROR,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not _complete(build):
        shutil.rmtree(build, ignore_errors=True)
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}{result.stderr}")
    build.chmod(0o755)
    build.rename(root)
