"""command:remote:Command realized over SSH with paramiko (prod stacks only; unexercised here)."""

from __future__ import annotations

import io
from typing import Any

import paramiko

from tests.e2e.containers import UnsupportedInput, check_keys

COMMAND_KEYS = {"connection", "create", "update", "delete", "triggers", "environment", "stdin"}
CONNECTION_KEYS = {"host", "port", "user", "privateKey", "password", "dialErrorLimit"}


def run_command(urn: str, inputs: dict[str, Any]) -> dict[str, Any]:
    check_keys(urn, inputs, COMMAND_KEYS)
    conn = inputs["connection"]
    check_keys(f"{urn}.connection", conn, CONNECTION_KEYS)
    if inputs.get("environment"):
        raise UnsupportedInput(f"{urn}.environment is not realized")
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - throwaway e2e hosts
    key = conn.get("privateKey")
    client.connect(
        conn["host"],
        port=int(conn.get("port", 22)),
        username=conn.get("user", "root"),
        pkey=paramiko.PKey.from_private_key(io.StringIO(key)) if key else None,
        password=conn.get("password"),
        allow_agent=not key,
    )
    try:
        stdin, stdout, stderr = client.exec_command(inputs["create"])
        if inputs.get("stdin"):
            stdin.write(inputs["stdin"])
        stdin.channel.shutdown_write()
        out, err = stdout.read().decode(), stderr.read().decode()
        status = stdout.channel.recv_exit_status()
    finally:
        client.close()
    if status:
        raise RuntimeError(f"{urn}: remote command exited {status}: {err[-2000:]}")
    return {**inputs, "stdout": out, "stderr": err}
