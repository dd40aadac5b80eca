"""`python3 -m backup ARGS` (scripts/backup.sh, ora-backup on the host, runs it so)."""

import os
import sys

from .cli import main

# The name the operator typed (backup.sh, ora-backup), which every message begins with.
PROG = os.environ.get("ORA_BACKUP_PROG") or "backup.sh"

sys.exit(main(sys.argv[1:], os.environ, PROG))
