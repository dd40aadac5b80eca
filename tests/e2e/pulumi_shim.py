"""A stand-in for the `pulumi` calls of `make maintenance`, `make history` and
`make rollback`, for an engine without the Pulumi CLI: `config set ora:KEY VALUE` records
the value, `up` re-applies the stack through the realizer with every recorded value,
`stack output --json` prints the deployment's outputs. A swarm stack (ora:target swarm)
is applied by the swarm realizer. Where the real CLI is installed, e2e uses it instead.

Environment: ORA_SHIM_CONFIG (JSON of recorded values, with the session's overrides),
ORA_SHIM_PROJECT, ORA_SHIM_STATE, ORA_SHIM_OUTPUTS (the deployment's).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.e2e import realize


def main(argv: list[str]) -> int:
    config = Path(os.environ["ORA_SHIM_CONFIG"])
    values = json.loads(config.read_text())
    if argv[:2] == ["config", "set"]:
        key, value = argv[2], argv[3]
        values[key.removeprefix("ora:")] = value
        config.write_text(json.dumps(values))
        return 0
    if argv[:3] == ["stack", "output", "--json"]:
        print(Path(os.environ["ORA_SHIM_OUTPUTS"]).read_text())
        return 0
    if argv[:1] == ["up"]:
        stack = argv[argv.index("--stack") + 1]
        project = Path(os.environ["ORA_SHIM_PROJECT"])
        apply = realize.apply
        if realize.stack_config(project, stack, values).get("ora:target") == "swarm":
            from tests.swarm import realize_swarm

            apply = realize_swarm.apply
        outputs = apply(project, stack, Path(os.environ["ORA_SHIM_STATE"]), values)
        Path(os.environ["ORA_SHIM_OUTPUTS"]).write_text(json.dumps(outputs, default=str))
        return 0
    print(f"pulumi_shim: unsupported: {argv}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
