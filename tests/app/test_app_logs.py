"""JSON logs: one object per line, the request id in it, and no secrets."""

import json
import logging

import pytest
from ora.logs import JsonFormatter, redact, request_id_var


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("connect redis://:hunter2@redis:6379/0", "hunter2"),
        ("openai key sk-proj-1234567890abcdef", "sk-proj-1234567890abcdef"),
        ('{"password": "pw-123"}', "pw-123"),
        ("api_key=qdrant-key-1", "qdrant-key-1"),
    ],
)
def test_redact_removes_secrets(text, secret):
    assert secret not in redact(text)


def test_formatter_emits_json_with_request_id_and_fields():
    record = logging.LogRecord("ora.api", logging.ERROR, __file__, 1, "cache %s", ("down",), None)
    record.fields = {"error": "redis://:pw@redis:6379 refused"}
    token = request_id_var.set("req-42")
    try:
        entry = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert entry["msg"] == "cache down"
    assert entry["request_id"] == "req-42"
    assert ":pw@" not in entry["error"]


def test_request_id_is_echoed_or_generated(client):
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(generated.headers["x-request-id"]) == 32
