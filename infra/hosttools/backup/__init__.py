"""ora-backup: Ora's backups on the Docker host, into a restic repository.

Standard-library Python, installed alone on the host beside its shim (scripts/backup.sh,
/usr/local/sbin/ora-backup), which runs `python3 -m backup`; it drives the restic and
docker command-line tools. Nothing is imported here: `python3 -m backup.qdrant` (create's
background job) must not load the rest first.
"""
