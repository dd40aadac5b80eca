"""A container's mounts as its kernel reports them (/proc/1/mountinfo), the same on
either target: a volume, a bind, a Swarm secret or config file."""

from __future__ import annotations


def mounts_at(host, container_name: str, directory: str) -> dict[str, list[str]]:
    """mount point -> its options ("ro", "nosuid", ...), for `directory` and below it."""
    mountinfo = host.check_output("docker exec %s cat /proc/1/mountinfo", container_name)
    # Each line: ID PARENT MAJOR:MINOR ROOT MOUNT_POINT OPTIONS ...
    rows = (line.split() for line in mountinfo.splitlines() if line.strip())
    return {
        fields[4]: fields[5].split(",")
        for fields in rows
        if fields[4] == directory or fields[4].startswith(f"{directory}/")
    }


def writable(mounts: dict[str, list[str]]) -> list[str]:
    return sorted(point for point, options in mounts.items() if "ro" not in options)
