#!/usr/bin/env bash
# Ora backups on the Docker host: create, list, rollback NAME, prune, check, set-password
# (`backup.sh help`). The program is the Python package infra/hosttools/backup: found beside
# this file's real path in a checkout, or where the bootstrap installs it on the host.
# -I: neither the working directory nor PYTHON* variables reach its import path (the -P of
# Python 3.11 would say the first, but the hosts' python3 may be 3.10).
here="$(dirname "$(readlink -f "$0")")"
ORA_BACKUP_PROG="$(basename "$0")" exec python3 -I -c \
  'import runpy, sys; sys.path[:0] = sys.argv[1:3]; del sys.argv[1:3]; runpy.run_module("backup", run_name="__main__", alter_sys=True)' \
  "$here/../infra/hosttools" /usr/local/lib/ora/hosttools "$@"
