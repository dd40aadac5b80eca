"""Image references: pinned registry images, or the app built from app/ (dev)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pulumi
import pulumi_docker as docker

from infra import topology

APP_DIR = topology.REPO_ROOT / "app"
# Build inputs that do not change the image (tests, caches, the local wheelhouse).
IGNORED_PARTS = {"__pycache__", ".pytest_cache", "wheels", "tests"}


def context_digest(directory: Path = APP_DIR) -> str:
    """A content hash of the build context, so a code change yields a new tag,
    and with it a container replacement; an unchanged tree yields no diff."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory)
        if IGNORED_PARTS & set(relative.parts) or path.suffix == ".pyc":
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def pinned(name: str, reference: str, parent: pulumi.Resource) -> docker.RemoteImage:
    """A registry image pulled onto the Docker host and kept there."""
    return docker.RemoteImage(
        name, name=reference, keep_locally=True, opts=pulumi.ResourceOptions(parent=parent)
    )


def built_tag(stack: str) -> str:
    """The local tag of the app image built from app/ as it is now."""
    return f"ora-app:{stack}-{context_digest()}"


def built_app(name: str, stack: str, parent: pulumi.Resource) -> docker.Image:
    """The app image built from app/ on the Docker host itself; never pushed. The
    provider never deletes a built image (its Delete is a no-op), so the previous
    builds stay on the host for `make rollback`."""
    return docker.Image(
        name,
        image_name=built_tag(stack),
        build=docker.DockerBuildArgs(
            context=str(APP_DIR), dockerfile=str(APP_DIR / "Dockerfile"), platform="linux/amd64"
        ),
        skip_push=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )
