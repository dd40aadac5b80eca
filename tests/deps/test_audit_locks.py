"""scripts/audit_locks.py on PyPI documents made here: what counts as audited, what fails."""

import importlib.util
import sys

import pytest

from tests.deps.pins import ROOT

_spec = importlib.util.spec_from_file_location("audit_locks", ROOT / "scripts" / "audit_locks.py")
audit = sys.modules["audit_locks"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)

VULN = {"id": "PYSEC-0000-1", "aliases": ["CVE-0000-1"], "fixed_in": ["1.1"]}


def index(documents):
    return lambda url: documents.get(url.removeprefix(audit.INDEX + "/"))


def run(tmp_path, documents, ignore="", strict=False):
    (tmp_path / "a.lock").write_text("demo==1.0 \\\n    --hash=sha256:ab\n")
    (tmp_path / "ignore.txt").write_text(ignore)
    args = [str(tmp_path / "a.lock"), "--ignore", str(tmp_path / "ignore.txt")]
    return audit.main(args + ["--strict"] * strict, fetch=index(documents))


def test_a_vulnerable_release_fails(tmp_path):
    assert run(tmp_path, {"demo/1.0/json": {"vulnerabilities": [VULN]}}) == 1


@pytest.mark.parametrize("listed", ["PYSEC-0000-1", "CVE-0000-1"])
def test_a_listed_vulnerability_passes_by_id_or_alias(tmp_path, listed):
    documents = {"demo/1.0/json": {"vulnerabilities": [VULN]}}
    assert run(tmp_path, documents, ignore=f"{listed}  not reachable here\n") == 0


def test_an_entry_without_a_reason_is_refused():
    with pytest.raises(ValueError, match="PYSEC-0000-1 has no reason"):
        audit.ignores("PYSEC-0000-1\n")


def test_the_project_document_answers_for_the_latest_release(tmp_path):
    documents = {"demo/json": {"info": {"version": "1.0"}, "vulnerabilities": [VULN]}}
    assert run(tmp_path, documents) == 1


def test_an_older_release_without_its_document_is_not_audited(tmp_path):
    documents = {"demo/json": {"info": {"version": "2.0"}, "vulnerabilities": []}}
    assert run(tmp_path, documents) == 0
    assert run(tmp_path, documents, strict=True) == 1
