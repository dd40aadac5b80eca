"""The keys file format and the constant-time lookup (standard library only)."""

import hashlib
import hmac

import pytest
from ora import apikeys
from ora.apikeys import KeyRing, KeysFileError, format_line, hash_key


def test_hash_key_is_sha256_hex():
    assert hash_key("abc") == hashlib.sha256(b"abc").hexdigest()


def test_format_line_round_trips_through_the_parser():
    line = format_line("deploy-ci", ["read", "write"], "the-key")
    assert line == f"deploy-ci read,write {hash_key('the-key')}"
    [key] = KeyRing.parse(line).keys
    assert (key.name, key.scopes) == ("deploy-ci", frozenset({"read", "write"}))


@pytest.mark.parametrize(
    ("name", "scopes"),
    [("has space", ["read"]), ("ok", []), ("ok", ["root"]), ("x" * 65, ["read"])],
)
def test_format_line_refuses_bad_names_and_scopes(name, scopes):
    with pytest.raises(ValueError, match="must"):
        format_line(name, scopes, "k")


@pytest.mark.parametrize(
    "line",
    [
        "onlyname",
        f"name read {'a' * 63}",
        f"name read,sudo {'a' * 64}",
        f"bad/name read {'a' * 64}",
        f"name read {'g' * 64}",
        f"name read {'a' * 64} extra",
    ],
)
def test_bad_line_names_its_number_but_not_its_content(line):
    text = f"# comment\n\n{format_line('good', ['read'], 'k')}\n{line}\n"
    with pytest.raises(KeysFileError) as error:
        KeyRing.parse(text)
    assert str(error.value).startswith("line 4: ")
    assert line not in str(error.value)


def test_lookup_finds_the_key_and_refuses_others():
    ring = KeyRing.parse("\n".join(format_line(f"k{i}", ["read"], f"key-{i}") for i in range(3)))
    assert ring.lookup("key-1").name == "k1"
    assert ring.lookup("key-9") is None
    assert KeyRing().lookup("key-1") is None


def test_lookup_compares_every_key_with_compare_digest(monkeypatch):
    ring = KeyRing.parse("\n".join(format_line(f"k{i}", ["read"], f"key-{i}") for i in range(5)))
    calls = []

    def counting(a, b):
        calls.append(1)
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(apikeys, "hmac", type("H", (), {"compare_digest": staticmethod(counting)}))
    assert ring.lookup("key-0").name == "k0"  # found first, still compared with all five
    assert len(calls) == 5
