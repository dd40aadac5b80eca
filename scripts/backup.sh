#!/usr/bin/env bash
# Ora backups on the Docker host: create, list, rollback NAME, prune, check, set-password
# (`backup.sh help`). The program is the Python package infra/hosttools/backup: found beside
# this file's real path in a checkout, or where the bootstrap installs it on the host.
here="$(dirname "$(readlink -f "$0")")"
export PYTHONPATH="$here/../infra/hosttools:/usr/local/lib/ora/hosttools"
ORA_BACKUP_PROG="$(basename "$0")" exec python3 -P -m backup "$@"
