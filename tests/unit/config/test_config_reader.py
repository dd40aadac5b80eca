"""The typed reader (infra/config/reader.py) and the one `parse` uses (raw.py)."""

import typing

import pytest

from infra.config import apikeys, capabilities, certificates, checks, monitoring, rules, sections
from infra.config import target as target_section
from infra.config.raw import RawReader
from infra.config.reader import Reader

DEFAULTS = {"flag": True, "off": False, "port": 22, "empty": None, "name": "deploy"}

SECTION_READERS = [
    sections.read_access,
    sections.read_edge,
    sections.read_images,
    sections.read_sizes,
    sections.read_service,
    monitoring.read,
    target_section.read,
    rules.reject_unknown_keys,
    rules.check_secrets,
    apikeys.check,
    certificates.check_provided,
    capabilities.check,
]


@pytest.mark.parametrize("reader", SECTION_READERS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_section_reader_takes_the_typed_reader(reader):
    assert typing.get_type_hints(reader)["r"] is Reader


@pytest.mark.parametrize(
    ("key", "text"),
    [("flag", "true"), ("off", "false"), ("port", "22"), ("empty", ""), ("name", "deploy")],
)
def test_defaults_are_spelled_as_the_cli_spells_them(key, text):
    r = RawReader({}, DEFAULTS)
    assert (r.text(key), r.default(key)) == (text, text)


def test_a_raw_value_wins_over_the_default_which_stays_known():
    r = RawReader({"port": "2222"}, DEFAULTS)
    assert (r.text("port"), r.default("port")) == ("2222", "22")


def test_a_bad_value_gives_the_fallback_and_one_problem():
    r = RawReader({"port": "ssh"}, DEFAULTS)
    assert r.get("port", lambda v: checks.integer(v, 1, 65535), 22) == 22
    [problem] = r.problems
    assert str(problem) == (
        "ora:port = 'ssh': is not a whole number. Fix: use a whole number from 1 to 65535."
    )
    assert r.failed("port") and not r.failed("name")


def test_the_value_shown_can_be_masked():
    r = RawReader({"name": "secret-ish"}, DEFAULTS)
    r.get("name", lambda v: checks.choice(v, ("deploy",)), "deploy", lambda v: "***")
    assert r.problems[0].value == "'***'"


def test_an_undeclared_key_is_a_programming_error():
    with pytest.raises(KeyError):
        RawReader({}, DEFAULTS).text("nope")
