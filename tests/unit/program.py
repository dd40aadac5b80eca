"""Runs infra/__main__.py under Pulumi's mocks and records what it declares.

`evaluate(stack, overrides, secrets)` returns a `Declared` graph: every
resource's type, name, inputs (with secret values still marked) and parent,
plus the stack outputs. The Pulumi engine cannot run here; this is the
approach Pulumi documents for unit tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc

from infra import config as stack_config
from tests.mocked import Options, run_program
from tests.unit.certs import make_pair

SECRET_SIG = rpc._special_secret_sig

# Test stand-ins for secrets an operator sets in prod (never real values).
PROD_SECRETS = {
    "redisPassword": "test-redis-password-0123456789",
    "qdrantApiKey": "test-qdrant-api-key-0123456789",
    "secretKey": "test-secret-key-0123456789abcdef-0123456789",
    "backupPassword": "test-backup-password-0123456789",
    "smtpPassword": "test-smtp-password",
    "grafanaAdminPassword": "test-grafana-admin-password",
    "apiKeys": "ci:read,write:test-ci-api-key-0123456789abcdef012345 "
    "ops:read,write,admin:test-ops-api-key-0123456789abcdef01234",
}
PROD_CERT, PROD_KEY = make_pair("ora.example.com")
PROD_SECRETS |= {"tlsCertificate": PROD_CERT, "tlsPrivateKey": PROD_KEY}


@dataclass
class Resource:
    type: str
    name: str
    inputs: dict[str, Any]
    urn_hint: str = ""
    options: Options | None = None  # as the engine would receive them (tests/mocked.py)

    def plain(self, key: str, default: Any = None) -> Any:
        return unwrap(self.inputs.get(key, default))

    def plain_inputs(self) -> dict[str, Any]:
        return unwrap(self.inputs)


@dataclass
class Declared:
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    @property
    def containers(self) -> list[Resource]:
        """Every container: the services and the one-shot secrets writers."""
        return self.of_type("docker:index/container:Container")

    @property
    def services(self) -> list[Resource]:
        return [c for c in self.containers if role_of(c) is None]

    @property
    def writers(self) -> list[Resource]:
        return [c for c in self.containers if role_of(c) == "oneshot"]

    def container(self, service: str) -> Resource:
        return next(c for c in self.containers if service_of(c) == service)


def labels_of(container: Resource) -> dict[str, Any]:
    return {item["label"]: item["value"] for item in container.plain("labels", [])}


def service_of(container: Resource) -> str:
    return labels_of(container)["org.ora.service"]


def role_of(container: Resource) -> str | None:
    return labels_of(container).get("org.ora.role")


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == SECRET_SIG


def unwrap(value: Any) -> Any:
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def contains(value: Any, needle: str) -> bool:
    """True when `needle` appears anywhere in a (possibly nested) plain value."""
    if isinstance(value, str):
        return needle in value
    if isinstance(value, dict):
        return any(contains(v, needle) for v in value.values())
    if isinstance(value, list):
        return any(contains(v, needle) for v in value)
    return False


FAKE_OUTPUTS = {
    "docker:index/remoteImage:RemoteImage": lambda i: {
        "imageId": f"sha256:{'a' * 64}",
        "repoDigest": i["name"],
    },
    "docker:index/image:Image": lambda i: {"imageName": i["imageName"], "repoDigest": ""},
    "random:index/randomPassword:RandomPassword": lambda i: {"result": "generated-" + "x" * 30},
    "random:index/randomId:RandomId": lambda i: {"hex": "0a1b2c3d"},
    "tls:index/privateKey:PrivateKey": lambda i: {
        "privateKeyPem": "-----BEGIN PRIVATE KEY-----\nfake\n"
    },
    "tls:index/selfSignedCert:SelfSignedCert": lambda i: {
        "certPem": "-----BEGIN CERTIFICATE-----\nfake\n"
    },
    "command:remote:Command": lambda i: {"stdout": command_stdout(i), "stderr": ""},
}
FAKE_JOIN_TOKEN = "SWMTKN-1-" + "3" * 50 + "-" + "7" * 25


def command_stdout(inputs: Mapping[str, Any]) -> str:
    """What a remote command prints: a join token, a swarm node ID, or the bootstrap's line."""
    create = inputs.get("create", "")
    if "join-token -q" in create:
        return FAKE_JOIN_TOKEN + "\n"
    if "Swarm.NodeID" in create:  # a node ID per node: its script and stdin differ
        seed = create + str(inputs.get("stdin", ""))
        return hashlib.sha256(seed.encode()).hexdigest()[:25] + "\n"
    return "bootstrap complete"


STACK_REFERENCE = "pulumi:pulumi:StackReference"


class Recorder(pulumi.runtime.Mocks):
    def __init__(
        self, declared: Declared, previous_outputs: Mapping[str, Any] | None = None
    ) -> None:
        self.declared = declared
        self.previous_outputs = dict(previous_outputs or {})
        self.options: dict[tuple[str, str], Options] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        options = self.options.get((args.typ, args.name))
        self.declared.resources.append(
            Resource(args.typ, args.name, dict(args.inputs), options=options)
        )
        plain_inputs = unwrap(dict(args.inputs))
        extra = FAKE_OUTPUTS.get(args.typ, lambda _i: {})(plain_inputs)
        if args.typ == STACK_REFERENCE:  # the stack's own outputs of its last update
            extra = {"outputs": self.previous_outputs, "secretOutputNames": []}
        return f"{args.name}-id", {**args.inputs, **extra}

    def call(self, args: pulumi.runtime.MockCallArgs):
        raise AssertionError(f"the program made an unexpected provider call: {args.token}")


def stack_values(stack: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    raw, _secure = stack_config.read_stack_file(stack)
    return {**raw, **(overrides or {})}


def evaluate(
    stack: str,
    overrides: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    plaintext: Mapping[str, str] | None = None,
    previous_outputs: Mapping[str, Any] | None = None,
) -> Declared:
    """Runs the program for `stack` with the stack file's values, `overrides` on
    top, `secrets` set as secure values and `plaintext` set as plain (wrong) ones;
    `previous_outputs` are what the stack's last update exported (none by default)."""
    if secrets is None:
        secrets = PROD_SECRETS if stack == "prod" else {}
    values = {f"ora:{k}": v for k, v in stack_values(stack, overrides).items()}
    values |= {f"ora:{k}": v for k, v in {**secrets, **(plaintext or {})}.items()}
    declared = Declared()
    secret_keys = [f"ora:{k}" for k in secrets]
    declared.outputs = run_program(
        Recorder(declared, previous_outputs or {}),
        stack,
        values,
        secret_keys,
        secret_outputs=declared.secret_outputs,
    )
    return declared
