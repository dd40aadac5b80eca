"""Deploy history and rollback (infra/deploys.py): the pure rules, then the program
under mocks with the outputs of a previous update."""

import datetime as dt
import re

import pytest

from infra import config, deploys
from tests.unit import program

NOW = dt.datetime(2026, 11, 29, 3, 0, tzinfo=dt.UTC)
OLD = "ghcr.io/example/ora-app:0.9.0@sha256:" + "1" * 64
CURRENT = program.stack_values("prod")["appImage"]
NEW = "ghcr.io/example/ora-app:1.1.0@sha256:" + "2" * 64
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"


def entry(image, when="2026-11-28T10:00:00+00:00", who="alice", rollback=False):
    return {"image": image, "deployedAt": when, "deployer": who, "rollback": rollback}


@pytest.mark.parametrize(
    ("rollback", "rollback_from", "image", "in_effect", "warns"),
    [
        (None, None, CURRENT, False, False),
        (OLD, CURRENT, OLD, True, False),
        (OLD, NEW, CURRENT, False, True),  # appImage moved on since the rollback
    ],
)
def test_a_rollback_holds_only_over_the_image_it_replaced(
    rollback, rollback_from, image, in_effect, warns
):
    choice = deploys.choose_image(CURRENT, rollback, rollback_from)
    assert (choice.image, choice.rollback, choice.warning is not None) == (image, in_effect, warns)


def test_a_new_image_is_recorded_first_with_time_and_deployer():
    history = deploys.record([entry(OLD)], CURRENT, False, NOW, "bob")
    assert history == [entry(CURRENT, "2026-11-29T03:00:00+00:00", "bob"), entry(OLD)]


def test_an_unchanged_image_leaves_the_history_as_it_was():
    assert deploys.record([entry(CURRENT), entry(OLD)], CURRENT, False, NOW, "bob") == [
        entry(CURRENT),
        entry(OLD),
    ]


def test_the_history_keeps_the_last_n():
    previous = [entry(f"img:{i}") for i in range(deploys.HISTORY_LENGTH)]
    history = deploys.record(previous, NEW, False, NOW, "bob")
    assert len(history) == deploys.HISTORY_LENGTH
    assert [e["image"] for e in history] == [NEW] + [f"img:{i}" for i in range(9)]


@pytest.mark.parametrize(
    ("history", "wanted", "target"),
    [
        ([entry(CURRENT), entry(OLD)], None, OLD),
        ([entry(CURRENT), entry(CURRENT), entry(OLD)], None, OLD),
        ([entry(CURRENT), entry(NEW), entry(OLD)], OLD, OLD),
    ],
)
def test_rollback_target(history, wanted, target):
    assert deploys.rollback_target(history, wanted) == target


@pytest.mark.parametrize(
    ("history", "wanted", "reason"),
    [
        ([], None, "no appHistory output yet"),
        ([entry(CURRENT)], None, "every entry of the history is the running image"),
        ([entry(CURRENT), entry(OLD)], NEW, "is not in the history"),
        ([entry(CURRENT), entry(OLD)], CURRENT, "already running"),
    ],
)
def test_rollback_target_says_why_there_is_none(history, wanted, reason):
    with pytest.raises(ValueError, match=reason):
        deploys.rollback_target(history, wanted)


@pytest.mark.parametrize(
    ("environ", "who"),
    [
        ({"ORA_DEPLOYER": "ops", "GITHUB_ACTOR": "ci", "USER": "root"}, "ops"),
        (
            {"GITHUB_ACTOR": "alice", "GITHUB_RUN_ID": "42", "USER": "runner"},
            "github:alice (run 42)",
        ),
        ({"USER": "bob"}, "bob"),
        ({}, "unknown"),
    ],
)
def test_deployer(environ, who):
    assert deploys.deployer(environ) == who


def test_history_table_marks_the_running_image_and_rollbacks():
    table = deploys.history_table([entry(OLD, rollback=True), entry(CURRENT)]).splitlines()
    assert table[1].startswith("*") and table[1].endswith(f"{OLD}  (rollback)")
    assert table[2].endswith(CURRENT) and not table[2].startswith("*")


# -- the program under mocks ----------------------------------------------------------


def app_images(declared):
    return {r.plain("name") for r in declared.of_type(REMOTE_IMAGE) if "ora-app" in r.plain("name")}


def test_the_stack_reads_its_own_previous_outputs():
    declared = program.evaluate("prod")
    (reference,) = declared.of_type(program.STACK_REFERENCE)
    assert reference.plain("name") == "organization/ora/prod"


def test_a_first_deploy_starts_the_history(monkeypatch):
    monkeypatch.setenv("ORA_DEPLOYER", "carol")
    history = program.evaluate("prod").outputs["appHistory"]
    assert [(e["image"], e["deployer"], e["rollback"]) for e in history] == [
        (CURRENT, "carol", False)
    ]


def test_a_new_image_is_added_to_the_previous_history():
    previous = {"appHistory": [entry(OLD)]}
    declared = program.evaluate("prod", {"appImage": NEW}, previous_outputs=previous)
    assert [e["image"] for e in declared.outputs["appHistory"]] == [NEW, OLD]


def test_a_rollback_deploys_the_earlier_image_and_records_it():
    previous = {"appHistory": [entry(CURRENT), entry(OLD)]}
    rollback = {"appRollbackImage": OLD, "appRollbackFrom": CURRENT}
    declared = program.evaluate("prod", rollback, previous_outputs=previous)
    assert app_images(declared) == {OLD}
    assert declared.outputs["images"]["app"] == OLD
    first = declared.outputs["appHistory"][0]
    assert (first["image"], first["rollback"]) == (OLD, True)


def test_a_new_app_image_supersedes_a_rollback():
    rollback = {"appRollbackImage": OLD, "appRollbackFrom": CURRENT, "appImage": NEW}
    declared = program.evaluate("prod", rollback)
    assert app_images(declared) == {NEW}


def test_a_dev_rollback_runs_the_earlier_local_build():
    built = "ora-app:dev-0123456789ab"
    rollback = {"appRollbackImage": built, "appRollbackFrom": program_built_tag()}
    declared = program.evaluate("dev", rollback)
    assert app_images(declared) == {built}
    assert not declared.of_type("docker:index/image:Image")
    # The same names the build of that image gave its containers (Docker's name rules).
    names = sorted(c.plain("name") for c in declared.services if "-app-" in c.plain("name")[:12])
    assert [n.startswith(f"ora-dev-app-{i}-0123456789ab-") for i, n in enumerate(names)] == [
        True,
        True,
    ]
    assert all(re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", n) for n in names), names


@pytest.mark.parametrize(
    ("reference", "tag"),
    [
        (OLD, "111111111111"),
        ("ora-app:dev-0123456789ab", "0123456789ab"),
        ("ghcr.io/example/ora-app:1.0", "1.0"),
        ("registry:5000/ora-app", "ora-app"),
    ],
)
def test_container_names_take_a_valid_tag_from_any_reference(reference, tag):
    from infra.services.app import name_tag

    assert name_tag(reference) == tag


def program_built_tag():
    from infra.targets.host import images

    return images.built_tag("dev")


@pytest.mark.parametrize(
    ("raw", "key", "fix"),
    [
        ({"appRollbackImage": OLD}, "ora:appRollbackFrom", "make rollback"),
        ({"appRollbackFrom": CURRENT}, "ora:appRollbackImage", "make rollback"),
        (
            {"appRollbackImage": "ghcr.io/x/ora:0.9", "appRollbackFrom": CURRENT},
            "ora:appRollbackImage",
            "name@sha256:<64 hex>",
        ),
    ],
)
def test_bad_rollback_keys_name_key_and_fix(raw, key, fix):
    values = {**program.stack_values("prod"), **raw}
    with pytest.raises(config.ConfigError) as caught:
        config.parse("prod", values, secrets_set=frozenset(program.PROD_SECRETS))
    assert f"{key} = " in str(caught.value)
    assert fix in str(caught.value)


def test_the_deploy_workflow_rolls_back_when_the_post_deploy_check_fails():
    import yaml

    workflow = yaml.safe_load(
        (program.stack_config.schema.PROJECT_ROOT / ".github/workflows/main.yml").read_text()
    )
    steps = workflow["jobs"]["deploy"]["steps"]
    names = [step.get("name", "") for step in steps]
    verify = names.index("verify the host (testinfra)")
    rollback = next(i for i, step in enumerate(steps) if "make rollback" in step.get("run", ""))
    assert rollback > verify
    assert steps[rollback]["if"] == "failure() && steps.up.outcome == 'success'"
    assert any(step.get("id") == "up" and "pulumi up" in step.get("run", "") for step in steps)


def swarm_app_images(declared) -> set[str]:
    images = {
        s.plain("taskSpec")["containerSpec"]["image"]
        for s in declared.of_type("docker:index/service:Service")
    }
    return {image for image in images if "ora-app" in image}


def test_the_swarm_stack_keeps_the_same_history():
    previous = {"appHistory": [entry(OLD)]}
    declared = program.evaluate("swarm", previous_outputs=previous)
    assert [e["image"] for e in declared.outputs["appHistory"]] == [CURRENT, OLD]


def test_a_swarm_rollback_runs_the_earlier_image_in_the_web_and_worker_services():
    previous = {"appHistory": [entry(CURRENT), entry(OLD)]}
    rollback = {"appRollbackImage": OLD, "appRollbackFrom": CURRENT}
    declared = program.evaluate("swarm", rollback, previous_outputs=previous)
    assert swarm_app_images(declared) == {OLD}
    assert declared.outputs["images"]["app"] == OLD
    first = declared.outputs["appHistory"][0]
    assert (first["image"], first["rollback"]) == (OLD, True)
    superseded = program.evaluate("swarm", {**rollback, "appImage": NEW})
    assert swarm_app_images(superseded) == {NEW}
