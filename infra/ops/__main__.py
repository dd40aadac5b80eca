"""`python -m infra.ops COMMAND STACK …`: what the make targets run."""

from infra.ops.cli import main

raise SystemExit(main())
