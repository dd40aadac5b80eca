"""The README's configuration reference is the one Pulumi.yaml declares."""

from infra.config import docs


def test_readme_config_reference_matches_pulumi_yaml():
    readme = docs.README.read_text()
    assert docs.BEGIN in readme and docs.END in readme
    assert docs.with_reference(readme) == readme, (
        "run `python -m infra.config.docs` and commit README.md"
    )


def test_readme_names_the_two_setup_commands():
    readme = docs.README.read_text()
    assert "make up" in readme and "make test" in readme
