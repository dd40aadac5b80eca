"""A real S3 API for backup tests, with its signature checks on: moto's server (moto 5.2.1,
`moto[server]`) on a loopback port, an IAM user allowed s3:* on one bucket, and that user's
access key. Requests before the key exists are free; every later one must be signed by it
(moto's IAM mode: POST /moto-api/reset-auth with 0, the documented
INITIAL_NO_AUTH_ACTION_COUNT reset), so a wrong secret gets S3's SignatureDoesNotMatch.

One moto defect is corrected here, in the server process: moto checks SigV4 against the
query string of werkzeug's `request.url`, which werkzeug 3 hands out with `%2F` decoded to
`/` (its uri_to_iri). Every client signs the canonical form (`prefix=prod%2Fkeys%2F`), so
moto refused every signed list request with a `/` in a parameter: restic's `List` of keys,
snapshots, and the `aws s3 ls s3://bucket/` of getmoto/moto#5948. The check here gets the
query in AWS's canonical encoding (each name and value URI-encoded, `-_.~` left as they
are); the signature itself is still computed and compared by moto.

    python -m tests.scripts.s3_server PORT     serves until terminated (from the repository root)
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from tests.ports import allocate
from tests.scripts.listening import wait_listening

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "ora-offsite"
USER = "ora-backup"


def canonical_query(query: str) -> str:
    """The query string as SigV4 signs it: every name and value URI-encoded."""
    pairs = []
    for part in query.split("&"):
        if part:
            name, equals, value = part.partition("=")
            pair = quote(unquote(name), safe="-_.~")
            pairs.append(pair + equals + quote(unquote(value), safe="-_.~"))
    return "&".join(pairs)


def serve(port: int) -> None:
    from moto.iam import access_control
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    class CanonicalS3Request(access_control.S3IAMRequest):
        def __init__(self, *, path: str, **kwargs):
            resource, mark, query = path.partition("?")
            super().__init__(path=resource + mark + canonical_query(query), **kwargs)

    # moto imports S3IAMRequest from this module at each S3 request.
    access_control.S3IAMRequest = CanonicalS3Request
    app = DomainDispatcherApplication(create_backend_app)
    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


@dataclass(frozen=True)
class Server:
    endpoint: str
    access_key_id: str
    secret_access_key: str

    def url(self, path: str) -> str:
        """restic's URL of a repository at `path` in the bucket."""
        return f"s3:{self.endpoint}/{BUCKET}/{path}"


def access_key(endpoint: str) -> tuple[str, str]:
    """An IAM user allowed s3:* on BUCKET only, and its access key (moto's IAM API, unsigned
    while the server does not check yet)."""
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName=USER)
    arns = [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": arns}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    iam.put_user_policy(UserName=USER, PolicyName="backups", PolicyDocument=policy)
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def check_signatures(port: int) -> None:
    """From now on moto authenticates and authorises every request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "text/plain"}
        connection.request("POST", "/moto-api/reset-auth", body=b"0", headers=headers)
        response = connection.getresponse()
        assert response.status == 200, response.read()
    finally:
        connection.close()


@contextmanager
def running(base: Path) -> Iterator[Server]:
    port = allocate()
    endpoint = f"http://127.0.0.1:{port}"
    with (base / "moto.log").open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.scripts.s3_server", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_listening(
            port, server, 30, lambda: f"moto did not listen: {(base / 'moto.log').read_text()}"
        )
        key_id, secret = access_key(endpoint)
        check_signatures(port)
        yield Server(endpoint, key_id, secret)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
