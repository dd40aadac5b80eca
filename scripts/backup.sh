#!/usr/bin/env bash
# Ora backups on the Docker host, into a restic repository (encrypted, deduplicated).
#
#   backup.sh create [NAME]   Redis's AOF files (BGSAVE snapshot without an AOF), Qdrant
#                             collection snapshots (its API) and the app data volume,
#                             + manifest.json, as one restic snapshot; NAME defaults to
#                             ora_backup_YYYYMMDD_HHMMSS (UTC)
#   backup.sh list            this stack's backups: name, time (UTC), size, counts
#   backup.sh rollback NAME   verify NAME's checksums, take a safety backup of the current
#                             state, stop app/worker/redis, restore, start, wait until healthy
#   backup.sh prune           forget this stack's snapshots older than 30 days, and prune
#   backup.sh check [ARG...]  restic check (e.g. --read-data-subset=10%)
#   backup.sh set-password    new repository password on stdin: restic key add + key remove
#
# Settings: /opt/ora/backup.conf and /opt/ora/backup.env (credentials) when present, then
# the environment (defaults in brackets):
#   ORA_STACK [prod]  RESTIC_REPOSITORY [/opt/ora/backups/restic] (any restic URL)
#   RESTIC_PASSWORD_FILE [/opt/ora/.restic-password]  ORA_BACKUP_STAGING [/opt/ora/backups/staging]
#   ORA_BACKUP_HEALTH_TIMEOUT [120] seconds to wait for healthy containers after a rollback
#   ORA_BACKUP_TEXTFILE_DIR [/var/lib/prometheus/node-exporter] where ora_backup.prom goes
#   ORA_BACKUP_OFFSITE_REPOSITORY [none] a second restic repository, copied to after each
#   backup (restic copy); its password: ORA_BACKUP_OFFSITE_PASSWORD_FILE [RESTIC_PASSWORD_FILE]
#   ORA_BACKUP_OFFSITE_SSH_KEY [none] private key file of an sftp: repository, and
#   ORA_BACKUP_OFFSITE_KNOWN_HOSTS [none] its server's host keys (empty: the first one seen)
#
# Containers are found by their labels (org.ora.stack, org.ora.service), never by name.
# Runs as root or as a member of the docker group. Passwords and API keys are read from
# files (restic) or inside the containers: never arguments, environment values, or printed.
set -Eeuo pipefail
umask 077

# The host's settings (written by the bootstrap: stack, off-host repository, metric
# directory) and the off-host backend's credentials, when present.
CREDENTIALS="${ORA_BACKUP_CREDENTIALS:-/opt/ora/backup.env}"
for settings in "${ORA_BACKUP_SETTINGS:-/opt/ora/backup.conf}" "$CREDENTIALS"; do
    if [[ -r "$settings" ]]; then
        set -a
        # shellcheck disable=SC1090 # the host's own root-owned settings
        . "$settings"
        set +a
    fi
done

ORA_STACK="${ORA_STACK:-prod}"
export RESTIC_REPOSITORY="${RESTIC_REPOSITORY:-/opt/ora/backups/restic}"
export RESTIC_PASSWORD_FILE="${RESTIC_PASSWORD_FILE:-/opt/ora/.restic-password}"
# The password file is the only source of the password: never a value in the environment.
unset RESTIC_PASSWORD RESTIC_PASSWORD_COMMAND
STAGING="${ORA_BACKUP_STAGING:-/opt/ora/backups/staging}"
HEALTH_TIMEOUT="${ORA_BACKUP_HEALTH_TIMEOUT:-120}"
TEXTFILE_DIR="${ORA_BACKUP_TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}"
OFFSITE="${ORA_BACKUP_OFFSITE_REPOSITORY:-}"
OFFSITE_PASSWORD_FILE="${ORA_BACKUP_OFFSITE_PASSWORD_FILE:-$RESTIC_PASSWORD_FILE}"
OFFSITE_SSH_KEY="${ORA_BACKUP_OFFSITE_SSH_KEY:-}"
OFFSITE_KNOWN_HOSTS="${ORA_BACKUP_OFFSITE_KNOWN_HOSTS:-}"
RETENTION="30d"
NAME_RE='^[A-Za-z0-9._-]+$'
HELPER_LABEL="org.ora.backup-helper=${ORA_STACK}"
REDIS_SECRET=/run/secrets/redis-password

PROG="$(basename "$0")"
# What the exit trap reports: containers this run stopped and has not started again,
# the recovery hint of a rollback in progress, and whether to write the metric.
STOPPED=()
RECOVERY=""
METRIC=""
LOCKED=""
PENDING_FILE=""
BACKGROUND=()
SCRATCH=""
STARTED_AT="$(date +%s)"
# die's exit status inside a command substitution: the message is out, so the caller's
# ERR trap stays silent (it reports commands that failed without saying why).
DIED=97

# $* with the password of every URL's userinfo (scheme://user:password@host, and
# sftp:user:password@host) shown as ***: messages name repositories, never their secrets.
# infra/config/checks.py refuses such a URL in the stack config; one may still come from the
# environment or backup.env.
redacted() {
    local text="$*" tail=""
    local url='^(.*(://|sftp:)[^/@:[:space:]]*:)[^/@[:space:]]*@(.*)$'
    while [[ "$text" =~ $url ]]; do
        tail="***@${BASH_REMATCH[3]}$tail"
        text="${BASH_REMATCH[1]}"
    done
    printf '%s' "$text$tail"
}

die() {
    printf '%s: error: %s\n' "$PROG" "$(redacted "$*")" >&2
    trap - ERR
    [[ "$BASHPID" == "$$" ]] || exit "$DIED"
    exit 1
}

say() {
    printf '%s: %s\n' "$PROG" "$(redacted "$*")" >&2
}

usage() {
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

on_exit() {
    local status=$?
    # A Qdrant snapshot still downloading (or a name lookup) when the run fails: stop it first.
    local pid
    for pid in "${BACKGROUND[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    # Only the holder of the lock owns the staging directory.
    [[ -n "$LOCKED" ]] && rm -rf "$STAGING/create"
    [[ -n "$PENDING_FILE" ]] && rm -f "$PENDING_FILE"
    [[ -n "$SCRATCH" ]] && rm -rf "$SCRATCH"
    [[ $status -eq 0 ]] && return 0
    [[ -n "$METRIC" ]] && write_metric 0 0 0
    if [[ ${#STOPPED[@]} -gt 0 ]]; then
        say "FAILED with these containers of stack ${ORA_STACK} STOPPED: ${STOPPED[*]}"
    fi
    [[ -n "$RECOVERY" ]] && say "$RECOVERY"
    ((status != DIED)) || exit 1
    return "$status"
}
trap on_exit EXIT
# Once per process: the trap fires again in each calling function as the failure returns.
on_err() {
    [[ -z "$ERR_SEEN" ]] || return 0
    ERR_SEEN=yes
    (($1 == DIED)) || say "command failed (line $2): $3"
}
ERR_SEEN=""
trap 'on_err $? "$LINENO" "$BASH_COMMAND"' ERR

utc_stamp() {
    date -u +%Y%m%d_%H%M%S
}

preflight() {
    local tool
    for tool in docker restic python3 sha256sum flock; do
        command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (or not on PATH)"
    done
    docker info >/dev/null 2>&1 ||
        die "the Docker engine does not answer to 'docker info' (run as root or a docker-group user)"
    [[ -f "$RESTIC_PASSWORD_FILE" ]] ||
        die "the restic password file $RESTIC_PASSWORD_FILE does not exist (set RESTIC_PASSWORD_FILE)"
    [[ -r "$RESTIC_PASSWORD_FILE" ]] ||
        die "the restic password file $RESTIC_PASSWORD_FILE is not readable by $(id -un)"
    [[ -s "$RESTIC_PASSWORD_FILE" ]] || die "the restic password file $RESTIC_PASSWORD_FILE is empty"
    [[ "$ORA_STACK" =~ $NAME_RE ]] || die "ORA_STACK '$ORA_STACK' must match $NAME_RE"
    [[ "$HEALTH_TIMEOUT" =~ ^[0-9]+$ ]] || die "ORA_BACKUP_HEALTH_TIMEOUT must be a number of seconds"
    lock
}

lock() {
    mkdir -p "$STAGING"
    # One backup.sh at a time per staging dir (the timer and an operator may meet).
    exec 9>"$STAGING/.lock"
    flock -n 9 || die "another backup.sh holds $STAGING/.lock; try again when it has finished"
    LOCKED=yes
}

ensure_repo() {
    local state
    state="$(repository_state "$RESTIC_REPOSITORY" "$RESTIC_PASSWORD_FILE")"
    [[ "$state" != refused* ]] || die "${state#refused }"
    [[ "$state" != wrong-password ]] || die "$(wrong_password "$RESTIC_REPOSITORY" "$RESTIC_PASSWORD_FILE")"
    if [[ "$state" == absent ]]; then
        say "initialising the restic repository $RESTIC_REPOSITORY"
        restic init >/dev/null || die "cannot initialise the restic repository $RESTIC_REPOSITORY"
    fi
}

wrong_password() {
    printf 'the password file %s does not open the repository %s (wrong password). Fix: put its password there, or change it with: %s set-password\n' "$2" "$1" "$PROG"
}

# What restic says of the repository $1 with the password file $2, as one line: "opens",
# "absent" (nothing there yet), "wrong-password", or "refused WHY. Fix: ..." (unreachable,
# credentials refused).
repository_state() {
    local repository="$1" password="$2" reason pulumi_key="" code problem
    if reason="$(RESTIC_REPOSITORY="$repository" RESTIC_PASSWORD_FILE="$password" \
        restic cat config 2>&1 >/dev/null)"; then
        echo opens
        return 0
    fi
    case "$reason" in
        *"The request signature we calculated does not match"*)
            code=SignatureDoesNotMatch pulumi_key=ora:backupOffsiteS3SecretAccessKey
            problem="it is not the secret of the access key id AWS_ACCESS_KEY_ID"
            ;;
        *"Access Key Id you provided does not exist"*)
            code=InvalidAccessKeyId pulumi_key=ora:backupOffsiteS3AccessKeyId
            problem="the S3 server has no such access key"
            ;;
        *"Access Denied"*)
            code=AccessDenied pulumi_key=ora:backupOffsiteS3AccessKeyId
            problem="that key may not use the bucket (its policy must allow s3:* on the bucket and its objects)"
            ;;
        *"unable to open config file: "*"no such file or directory"* | \
            *"unable to open config file: "*"file does not exist"* | \
            *"unable to open config file: "*"The specified key does not exist"* | \
            *"unable to open config file: "*"The specified bucket does not exist"*)
            echo absent
            return 0
            ;;
        *"wrong password"*)
            echo wrong-password
            return 0
            ;;
        *)
            # ssh's own words (host key, login refused) and restic's verdict.
            problem="$(grep -E '^(subprocess ssh|Fatal): ' <<<"$reason" | tail -n2 | paste -sd ' ' || :)"
            printf 'refused cannot open the repository %s (%s)\n' "$repository" "${problem:-$(tail -n1 <<<"$reason")}"
            return 0
            ;;
    esac
    # Names, never values: both are secrets.
    printf 'refused the S3 server of %s refused the credentials in %s (%s): %s = (secret, not shown): %s. Fix: pulumi config set --secret %s VALUE, then pulumi up\n' \
        "$repository" "$CREDENTIALS" "$code" "$pulumi_key" "$problem" "$pulumi_key"
}

# The repository as restic parses it. restic 0.14 cuts sftp:USER@HOST:PATH at the first
# colon, so an IPv6 host (sftp:USER@[2001:db8::1]:/srv/ora) becomes the URL form
# sftp://USER@[2001:db8::1]//srv/ora, which it reads right.
restic_url() {
    local repository="$1"
    if [[ "$repository" =~ ^sftp:([^/@]+@)?(\[[0-9A-Fa-f:.]+\]):(.*)$ ]]; then
        printf 'sftp://%s%s/%s\n' "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
    else
        printf '%s\n' "$repository"
    fi
}
RESTIC_REPOSITORY="$(restic_url "$RESTIC_REPOSITORY")"
OFFSITE="$(restic_url "$OFFSITE")"

# The ssh command that restic runs for an sftp: repository, logging in with the off-host
# key file (ORA_BACKUP_OFFSITE_SSH_KEY): only its path is ever an argument. Empty for other
# repositories, or without a key file (then ssh's own configuration applies).
sftp_command() {
    local repository="$1" login port="" user="" host options
    [[ "$repository" == sftp:* && -n "$OFFSITE_SSH_KEY" ]] || return 0
    [[ -r "$OFFSITE_SSH_KEY" ]] || die "the off-host SSH key $OFFSITE_SSH_KEY is missing or unreadable (ora:backupOffsiteSshKey)"
    if [[ "$repository" == sftp://* ]]; then
        login="${repository#sftp://}"
        login="${login%%/*}"
        if [[ "$login" =~ ^(.*):([0-9]+)$ ]]; then
            login="${BASH_REMATCH[1]}"
            port="${BASH_REMATCH[2]}"
        fi
    else
        login="${repository#sftp:}"
        login="${login%%:*}"
    fi
    host="${login##*@}"
    [[ "$login" == *@* ]] && user="${login%@*}"
    # An IPv6 address comes in brackets; ssh takes it bare.
    if [[ "$host" =~ ^\[([0-9A-Fa-f:.]+)\]$ ]]; then host="${BASH_REMATCH[1]}"; else [[ "$host" =~ ^[A-Za-z0-9._-]+$ ]] || host=""; fi
    [[ -n "$host" && "$user" =~ ^[A-Za-z0-9._-]*$ ]] ||
        die "cannot read the SSH host of the repository $repository (use sftp:USER@HOST:/PATH, sftp:USER@[IPV6]:/PATH or sftp://USER@HOST:PORT//PATH)"
    options="-i $OFFSITE_SSH_KEY -o IdentitiesOnly=yes -o BatchMode=yes"
    if [[ -n "$OFFSITE_KNOWN_HOSTS" ]]; then
        # Pinned host keys when the file has any, else the first key seen is kept there.
        options+=" -o UserKnownHostsFile=$OFFSITE_KNOWN_HOSTS -o StrictHostKeyChecking="
        if [[ -s "$OFFSITE_KNOWN_HOSTS" ]]; then options+=yes; else options+=accept-new; fi
    fi
    printf 'ssh %s%s%s %s -s sftp\n' "$options" "${port:+ -p $port}" "${user:+ -l $user}" "$host"
}

# restic, with the off-host key's ssh command when the repository it opens is sftp:.
restic() {
    local ssh
    ssh="$(sftp_command "$RESTIC_REPOSITORY")" || return 1
    if [[ -n "$ssh" ]]; then
        command restic -o "sftp.command=$ssh" "$@"
    else
        command restic "$@"
    fi
}

# Names of this stack's containers of one service; running ones only unless "all" is given.
containers_of() {
    local service="$1" scope="${2:-running}" flags=()
    [[ "$scope" == all ]] && flags=(--all)
    docker ps "${flags[@]}" --filter "label=org.ora.stack=${ORA_STACK}" \
        --filter "label=org.ora.service=${service}" --format '{{.Names}}' | sort
}

# "SERVICE CONTAINER IMAGE-REFERENCE IMAGE-ID" of each running container of the stack,
# sorted: one docker ps and one docker inspect for them all.
stack_images() {
    local ids
    ids="$(docker ps --quiet --filter "label=org.ora.stack=${ORA_STACK}")"
    [[ -n "$ids" ]] || return 0
    # shellcheck disable=SC2086 # one container id a word
    docker inspect --format '{{index .Config.Labels "org.ora.service"}} {{slice .Name 1}} {{.Config.Image}} {{.Image}}' $ids | sort
}

# The one container of a data store, running.
store_container() {
    local service="$1" found
    found="$(containers_of "$service")"
    [[ -n "$found" ]] || die "no running $service container labelled org.ora.stack=${ORA_STACK}, org.ora.service=$service"
    [[ "$(wc -l <<<"$found")" -eq 1 ]] || die "more than one $service container for stack ${ORA_STACK}: ${found//$'\n'/ }"
    printf '%s\n' "$found"
}

# redis-cli in the redis container with the password from its secret file (or, before
# secrets became files, REDISCLI_AUTH in its environment): never on a command line.
redis_cli() {
    local container="$1"
    shift
    # shellcheck disable=SC2016 # expanded inside the container
    docker exec "$container" sh -c '[ -r '"$REDIS_SECRET"' ] && REDISCLI_AUTH="$(cat '"$REDIS_SECRET"')" && export REDISCLI_AUTH; exec redis-cli "$@"' redis-cli "$@"
}

# The Python half of this script (python_lib, at the end); stdin stays free for data.
py() {
    python3 -c "$PYLIB" "$@"
}

# Qdrant's REST API, spoken inside the qdrant container through `docker exec`.
qdrant() {
    py qdrant "$@"
}

# The image of the helper containers: the redis image (it has sh, tar and find, and is
# on the host already, so nothing is pulled). Works with the redis container stopped.
helper_image() {
    local found
    found="$(containers_of redis all | head -n1)"
    [[ -n "$found" ]] || die "no redis container labelled org.ora.stack=${ORA_STACK}: its image runs the volume copies"
    docker inspect --format '{{.Image}}' "$found"
}

# Seconds since an earlier $EPOCHREALTIME, to a tenth, in bash alone: no process per lap.
seconds_since() {
    local then="${1//[.,]/}" now="${EPOCHREALTIME//[.,]/}" tenths
    tenths=$(((now - then + 50000) / 100000))
    printf '%d.%d\n' $((tenths / 10)) $((tenths % 10))
}

# Waits for the background job $1 and forgets it; returns the job's exit status.
reap() {
    local pid="$1" status=0 kept=() other
    wait "$pid" || status=$?
    for other in "${BACKGROUND[@]}"; do [[ "$other" == "$pid" ]] || kept+=("$other"); done
    BACKGROUND=("${kept[@]}")
    return "$status"
}

volume_name() {
    printf 'ora-%s-%s\n' "$ORA_STACK" "$1"
}

require_volume() {
    docker volume inspect "$1" >/dev/null 2>&1 || die "the volume $1 does not exist (is ORA_STACK=${ORA_STACK} right?)"
}

# Snapshots of this stack as JSON. Repeated --tag flags are OR'ed by restic; a comma ANDs.
stack_snapshots() {
    restic snapshots --tag "ora,stack=${ORA_STACK}${1:+,$1}" --json
}

snapshot_id_of() {
    stack_snapshots "name=$1" | py newest-id
}

lastsave() {
    local reply
    reply="$(redis_cli "$1" LASTSAVE)" || die "redis-cli LASTSAVE failed in $1"
    [[ "$reply" =~ ^[0-9]+$ ]] || die "unexpected LASTSAVE reply from $1: ${reply:0:80}"
    printf '%s\n' "$reply"
}

redis_bgsave() {
    local redis="$1" before now status deadline
    before="$(lastsave "$redis")"
    # LASTSAVE has a resolution of one second: make a new save distinguishable.
    now="$(date +%s)"
    if ((now <= before)); then sleep $((before - now + 1)); fi
    # SCHEDULE: if an AOF rewrite is running, the save starts right after it.
    status="$(redis_cli "$redis" BGSAVE SCHEDULE)" || die "redis-cli BGSAVE failed in $redis"
    say "redis $redis: $status"
    deadline=$((SECONDS + 300))
    until (($(lastsave "$redis") > before)); do
        ((SECONDS < deadline)) || die "redis $redis: BGSAVE did not finish within 300 s"
        sleep 0.5
    done
    redis_cli "$redis" INFO persistence | grep -q '^rdb_last_bgsave_status:ok' ||
        die "redis $redis: the last BGSAVE failed (redis-cli INFO persistence)"
}

redis_keys() {
    redis_cli "$1" INFO keyspace | py redis-keys
}

# "on|off REWRITES idle|busy": whether Redis keeps an AOF, how many rewrites it has done,
# and whether one runs or is scheduled now.
redis_aof_state() {
    redis_cli "$1" INFO persistence | py aof-state
}

# In the redis-data volume (read-only): a tar of the multi-part AOF's manifest and the
# base and incr files it names (the directory and the manifest first); exit 3 when there is no manifest (Redis < 7).
# shellcheck disable=SC2016 # expanded by the helper's shell
AOF_FILES='cd /v/appendonlydir 2>/dev/null || exit 3
set -- *.manifest; [ -f "$1" ] || exit 3; manifest="$1"; set --
while read -r _ name _ _ _ type; do
    case "$type" in b | i) set -- "$@" "appendonlydir/$name" ;; esac
done <"$manifest"
exec tar -C /v --numeric-owner --no-recursion -cf - appendonlydir "appendonlydir/$manifest" "$@"'

# Redis's append-only files as they stand between two commands: the base (unchanged until
# Redis rewrites the AOF) and the incr files, the last one cut after its last whole command
# (and before an unfinished MULTI). No rewrite may run meanwhile, else the copy is taken
# again. Unchanged data stays byte-identical from one backup to the next, so restic stores
# only what was appended. Prints "aof CUT" (bytes kept of the last incr file), or "rdb"
# when Redis keeps no multi-part AOF and the caller must take a BGSAVE snapshot instead.
redis_aof_copy() {
    local redis="$1" image="$2" volume="$3" target="$4" before after result status deadline=$((SECONDS + 300))
    while :; do
        before="$(redis_aof_state "$redis")" || die "redis-cli INFO persistence failed in $redis"
        [[ "$before" == on\ * ]] || { echo rdb && return 0; }
        if [[ "$before" == *\ idle ]]; then
            # The exit statuses stay in memory: the staging disk may be the one that is full.
            result="$(helper -v "${volume}:/v:ro" --entrypoint sh "$image" -c "$AOF_FILES" |
                py redis-aof "$target" || echo "failed ${PIPESTATUS[*]}")"
            if [[ "$result" == *"failed 3 "* ]]; then
                rm -f "$target"
                echo rdb
                return 0
            fi
            if [[ "$result" == *failed* ]]; then
                status="${result##*failed }"
                result="${result%failed*}"
                die "copying the AOF of $volume failed: ${result:+${result%$'\n'} }(disk full? exit $status); no backup was stored"
            fi
            after="$(redis_aof_state "$redis")"
            if [[ "$after" == "$before" ]]; then
                echo "aof $result"
                return 0
            fi
            say "redis $redis: an AOF rewrite ran during the copy; copying again"
        fi
        ((SECONDS < deadline)) || die "redis $redis: an AOF rewrite kept running for 300 s; no backup was stored"
        sleep 1
    done
}

helper() {
    docker run --rm -i --network none --user 0:0 --security-opt no-new-privileges \
        --label "$HELPER_LABEL" --log-driver none "$@"
}

# tar stream of a volume (read-only mount) into a file. GNU tar exits 1 when a file
# changed while it was read: the copy is complete, that file may be torn; anything
# else is a failure. Redis is copied as its BGSAVE snapshot (dump.rdb) only.
archive_volume() {
    local image="$1" volume="$2" target="$3" what="${4:-.}" status=0
    helper -v "${volume}:/v:ro" --entrypoint tar "$image" \
        -C /v --numeric-owner --warning=no-file-changed -cf - "$what" >"$target" || status=$?
    # A full disk or a broken pipe also exits 1: the archive must read back whole.
    if ! { [[ -s "$target" ]] && tar -tf "$target" >/dev/null 2>&1; }; then
        die "archiving the volume $volume into $target failed (disk full? exit $status); no backup was stored"
    fi
    case "$status" in
        0) ;;
        1) say "warning: a file of $volume changed while it was copied (tar exit 1); the copy is complete" ;;
        *) die "archiving the volume $volume failed (tar exit $status); no backup was stored" ;;
    esac
}

# Empties a volume and unpacks a tar file into it. For Redis, the snapshot becomes the
# base of a fresh AOF, since Redis with appendonly ignores a dump.rdb without an AOF.
# ORA_BACKUP_FAILPOINT=restore:VOLUME (tests only) empties VOLUME and then fails.
restore_volume() {
    local image="$1" volume="$2" source="$3" kind="$4" script
    script='find /v -mindepth 1 -delete && tar -C /v --numeric-owner -xpf -'
    if [[ "$kind" == redis ]]; then
        # Backups made before format 2 carry their own AOF: keep it.
        script+=' && { [ -d /v/appendonlydir ] || { mkdir /v/appendonlydir'
        script+=' && cp -p /v/dump.rdb /v/appendonlydir/appendonly.aof.1.base.rdb'
        script+=' && printf "file appendonly.aof.1.base.rdb seq 1 type b\n" >/v/appendonlydir/appendonly.aof.manifest'
        # shellcheck disable=SC2016 # expanded by the helper's shell
        script+=' && chown -R "$(stat -c %u:%g /v/dump.rdb)" /v/appendonlydir; }; }'
    fi
    [[ "${ORA_BACKUP_FAILPOINT:-}" == "restore:$volume" ]] && script='find /v -mindepth 1 -delete; exit 1'
    helper -v "${volume}:/v" --entrypoint sh "$image" -c "$script" <"$source"
}

# Files and bytes of a live volume, as "files bytes".
volume_usage() {
    helper -v "${2}:/v:ro" --entrypoint find "$1" /v -type f -printf '%s\n' </dev/null |
        py sum-sizes
}

write_metric() {
    local status="$1" size="$2" added="$3" now duration
    now="$(date +%s)"
    duration=$((now - STARTED_AT))
    # World-readable, whatever this script's umask: node-exporter reads it unprivileged.
    (umask 022 && mkdir -p "$TEXTFILE_DIR") 2>/dev/null || {
        say "warning: cannot create $TEXTFILE_DIR for the backup metric"
        return 0
    }
    py metric "$TEXTFILE_DIR/ora_backup.prom" "$ORA_STACK" "$status" "$now" \
        "$size" "$added" "$duration" || say "warning: cannot write $TEXTFILE_DIR/ora_backup.prom"
}

# restic on the off-host repository, with the local one as the source.
offsite_restic() {
    local primary="$RESTIC_REPOSITORY" primary_password="$RESTIC_PASSWORD_FILE"
    RESTIC_REPOSITORY="$OFFSITE" RESTIC_PASSWORD_FILE="$OFFSITE_PASSWORD_FILE" \
        restic "$@" --from-repo "$primary" --from-password-file "$primary_password"
}

copy_offsite() {
    local snapshot="$1"
    [[ -n "$OFFSITE" ]] || return 0
    local started="$EPOCHREALTIME" errors state
    # The copy is tried first; only when it fails does repository_state find out why
    # (absent: the repository is created and the copy runs again).
    if ! errors="$(offsite_restic copy --quiet "$snapshot" 2>&1 >/dev/null)"; then
        state="$(repository_state "$OFFSITE" "$OFFSITE_PASSWORD_FILE")"
        [[ "$state" != refused* ]] || die "${state#refused }; nothing was copied off-host (the local backup is stored)"
        [[ "$state" != wrong-password ]] ||
            die "$(wrong_password "$OFFSITE" "$OFFSITE_PASSWORD_FILE") (the local backup is stored)"
        [[ "$state" == absent ]] || {
            printf '%s\n' "$errors" >&2
            die "restic copy of snapshot ${snapshot:0:8} to $OFFSITE failed (the local backup is stored)"
        }
        say "initialising the off-host repository $OFFSITE"
        offsite_restic init --copy-chunker-params >/dev/null ||
            die "cannot initialise the off-host repository $OFFSITE (the local backup is stored)"
        offsite_restic copy --quiet "$snapshot" >/dev/null ||
            die "restic copy of snapshot ${snapshot:0:8} to $OFFSITE failed (the local backup is stored)"
    fi
    # Timed apart from the phases above: the drill's backup time includes this copy.
    say "copied snapshot ${snapshot:0:8} to the off-host repository $OFFSITE in $(seconds_since "$started") s"
}

do_create() {
    local name="${1:-ora_backup_$(utc_stamp)}"
    [[ "$name" =~ $NAME_RE ]] || die "backup name '$name' must match $NAME_RE"
    local existing redis qdrant_c image work volume total keys summary snapshot described tags=() tag
    SCRATCH="$(mktemp -d)"
    # The name is looked up while the data is copied (restic's key derivation alone takes
    # two thirds of a second here); the copies only read, so a taken name still stops the run before
    # anything is stored. One restic run both opens the repository and looks the name up.
    snapshot_id_of "$name" >"$SCRATCH/existing" 2>/dev/null &
    local lookup=$!
    BACKGROUND+=("$lookup")
    redis="$(store_container redis)"
    qdrant_c="$(store_container qdrant)"
    image="$(helper_image)"
    for volume in redis-data app-data; do require_volume "$(volume_name "$volume")"; done

    work="$STAGING/create"
    rm -rf "$work"
    mkdir -p "$work"
    : >"$work/artefacts"
    # A line of the artefact list; the staging disk may fill up here too.
    note() {
        printf '%s\n' "$1" >>"$work/artefacts" 2>/dev/null ||
            die "cannot write into the staging directory $STAGING (disk full?); no backup was stored"
    }

    # Seconds of each phase, printed at the end (the drill's time ratio is read from them).
    local timings="" mark="$EPOCHREALTIME"
    lap() {
        timings+="${timings:+, }$1 $(seconds_since "$mark") s"
        mark="$EPOCHREALTIME"
    }
    # Qdrant makes its snapshots (its own CPU and disk) while the volumes are copied here.
    # Its messages wait in a file off the staging disk (which may be the one that fills):
    # shown once it is done, or not at all when another failure has already stopped the run.
    local copied snapshots snapshot_errors="$SCRATCH/qdrant.err"
    python3 -c "$PYLIB" qdrant "$qdrant_c" snapshot-all "$work" >"$work/qdrant-artefacts" 2>"$snapshot_errors" &
    snapshots=$!
    BACKGROUND+=("$snapshots")
    keys="$(redis_keys "$redis")"
    volume="$(volume_name redis-data)"
    copied="$(redis_aof_copy "$redis" "$image" "$volume" "$work/$volume.tar")"
    if [[ "$copied" == aof* ]]; then
        note "volume $volume.tar $volume redis-aof ${copied#aof }"
        lap "redis AOF copy"
    else
        redis_bgsave "$redis"
        keys="$(redis_keys "$redis")"
        archive_volume "$image" "$volume" "$work/$volume.tar" dump.rdb
        note "volume $volume.tar $volume redis $(lastsave "$redis")"
        lap "redis BGSAVE and copy"
    fi
    volume="$(volume_name app-data)"
    archive_volume "$image" "$volume" "$work/$volume.tar"
    note "volume $volume.tar $volume app -"
    lap "app volume copy"
    if ! reap "$snapshots"; then
        local why
        why="$(sed -n 's/^backup.sh: error: //p' "$snapshot_errors" | tail -n1)"
        [[ -n "$why" ]] || why="$(tail -n1 "$snapshot_errors")"
        die "the Qdrant snapshots failed: ${why:-no message} (disk full?); no backup was stored"
    fi
    cat "$snapshot_errors" >&2
    note "$(cat "$work/qdrant-artefacts")"
    rm -f "$work/qdrant-artefacts"
    lap "Qdrant snapshots (waited for)"

    local service container reference id
    while read -r service container reference id; do
        case "$service" in redis | qdrant | app | worker | nginx) note "image $service $container $reference $id" ;; esac
    done < <(stack_images)
    # The manifest's own error (a full disk) is the one message.
    described="$(py manifest "$work" "$name" "$ORA_STACK" "$(hostname)" "$keys")" || exit 1
    total="$(head -n1 <<<"$described")"
    for tag in $(tail -n1 <<<"$described"); do tags+=(--tag "$tag"); done
    rm -f "$work/artefacts"
    lap "manifest"

    # Only when the lookup failed does ensure_repo find out why (absent: the repository is
    # created; a wrong password: one message).
    if reap "$lookup"; then
        existing="$(<"$SCRATCH/existing")"
    else
        ensure_repo
        existing="$(snapshot_id_of "$name")" || die "cannot list the snapshots of $RESTIC_REPOSITORY"
    fi
    [[ -z "$existing" ]] || die "a backup named '$name' already exists for stack ${ORA_STACK}; nothing was stored"

    # restic writes the snapshot only when every file is stored: an interrupted or
    # failed run (disk full) leaves no snapshot, only unreferenced data that prune removes.
    local errors="$STAGING/restic-backup.err" status=0
    summary="$(cd "$work" && restic backup --json --tag ora --tag "stack=${ORA_STACK}" \
        --tag "name=${name}" --tag "bytes=${total}" "${tags[@]}" . 2>"$errors" | tail -n1)" || status=$?
    [[ -s "$errors" ]] && cat "$errors" >&2
    if ((status != 0)); then
        local why="failed (exit $status)"
        ((status > 128)) && why="was interrupted (signal $((status - 128)))"
        grep -q 'no space left on device' "$errors" 2>/dev/null &&
            why="failed: the disk of the repository $RESTIC_REPOSITORY is full (no space left on device)"
        rm -f "$errors"
        # A killed restic leaves its lock behind, which would stop the next prune or check.
        unlock_stale
        die "restic backup $why: no snapshot named '$name' was written and the earlier backups are intact; '$PROG prune' removes the data this run left unreferenced"
    fi
    rm -f "$errors"
    lap "restic backup"
    say "timings: $timings"
    snapshot="$(py summary snapshot_id <<<"$summary")"
    if [[ -n "$METRIC" ]]; then
        write_metric 1 "$total" "$(py summary data_added <<<"$summary")"
        # A whole, successful backup: an unfinished rollback's note is over (its safety
        # backup stays in the repository).
        rm -f "$STAGING/rollback.pending"
    fi
    rm -rf "$work"
    say "backup $name of stack ${ORA_STACK} stored in $RESTIC_REPOSITORY ($total bytes before dedup)"
    copy_offsite "$snapshot"
    printf '%s\n' "$name"
}

do_list() {
    ensure_repo
    stack_snapshots | py list
}

container_health() {
    docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1"
}

wait_healthy() {
    local started=$SECONDS deadline=$((SECONDS + HEALTH_TIMEOUT)) container state
    for container in "$@"; do
        while :; do
            state="$(container_health "$container")"
            [[ "$state" == healthy ]] && break
            # A container without a healthcheck counts once it is running.
            [[ "$state" == running && -z "$(docker inspect --format '{{if .State.Health}}x{{end}}' "$container")" ]] && break
            ((SECONDS < deadline)) || die "$container is '$state', not healthy, after ${HEALTH_TIMEOUT} s (docker logs $container)"
            sleep 1
        done
        say "$container is $state ($((SECONDS - started)) s)"
    done
}

stop_containers() {
    [[ $# -gt 0 ]] || return 0
    say "stopping $*"
    local t=$SECONDS
    STOPPED+=("$@")
    docker stop "$@" >/dev/null
    say "stopped in $((SECONDS - t)) s"
}

start_containers() {
    [[ $# -gt 0 ]] || return 0
    say "starting $*"
    docker start "$@" >/dev/null
    wait_healthy "$@"
    local started kept=() c
    for c in "${STOPPED[@]}"; do
        for started in "$@"; do [[ "$c" == "$started" ]] && continue 2; done
        kept+=("$c")
    done
    STOPPED=("${kept[@]}")
}

# Counts of the live stack (what a rollback replaces and what it brought back).
live_counts() {
    local image="$1" redis qdrant_c keys="?" usage="? ?" collections="{}"
    redis="$(containers_of redis | head -n1)"
    qdrant_c="$(containers_of qdrant | head -n1)"
    [[ -n "$redis" ]] && keys="$(redis_keys "$redis" 2>/dev/null || echo '?')"
    [[ -n "$qdrant_c" ]] && collections="$(qdrant "$qdrant_c" counts 2>/dev/null || echo '{}')"
    usage="$(volume_usage "$image" "$(volume_name app-data)" 2>/dev/null || echo '? ?')"
    py counts-line "$keys" "$usage" "$collections"
}

do_rollback() {
    local name="$1"
    [[ "$name" =~ $NAME_RE ]] || die "backup name '$name' must match $NAME_RE"
    ensure_repo
    local snapshot
    snapshot="$(snapshot_id_of "$name")"
    [[ -n "$snapshot" ]] || die "no backup named '$name' for stack ${ORA_STACK} in $RESTIC_REPOSITORY (see: $PROG list); nothing was changed"

    # The restored artefacts stay here until the rollback succeeds.
    local work="$STAGING/rollback/$name" plan image pending="$STAGING/rollback.pending"
    if [[ -f "$work/.verified" ]] && plan="$(py verify "$work" "$ORA_STACK")"; then
        say "reusing the verified artefacts of $name in $work"
    else
        rm -rf "$work"
        mkdir -p "$work"
        say "restoring snapshot ${snapshot:0:8} ($name) into $work"
        restic restore --quiet "$snapshot" --target "$work" >/dev/null ||
            die "restic restore of $name failed; nothing was changed"
        plan="$(py verify "$work" "$ORA_STACK")" || die "$name does not verify (see above); nothing was changed"
        touch "$work/.verified"
    fi
    image="$(helper_image)"
    local kind file target
    while read -r kind file target; do
        [[ "$kind" == volume ]] && require_volume "$target"
    done <<<"$plan"

    # Nothing is ever lost: the current state first becomes a backup of its own, unless
    # an unfinished rollback already kept it (its own state now is half-restored).
    local safety t
    if [[ -s "$pending" ]]; then
        safety="$(cat "$pending")"
        say "a previous rollback did not finish; the state before it is the backup $safety: no new safety backup"
    else
        safety="pre-rollback-${name}-$(utc_stamp)"
        [[ ${#safety} -le 200 ]] || safety="pre-rollback-$(utc_stamp)"
        say "taking the safety backup $safety of the current state"
        t=$SECONDS
        do_create "$safety" >/dev/null
        say "safety backup taken in $((SECONDS - t)) s"
        printf '%s\n' "$safety" >"$pending"
    fi
    RECOVERY="the rollback to $name did not finish. The state before it is the backup $safety;
  the verified artefacts of $name stay in $work. Recover with one of:
    $PROG rollback $name       (retry, once the cause is fixed)
    $PROG rollback $safety     (back to where you were)
  neither takes another safety backup, and both start the stopped containers."
    say "before: $(live_counts "$image")"

    # Consumers first, then the data stores whose volumes are replaced.
    local consumers=() stores=() qdrant_volume=""
    mapfile -t consumers < <(containers_of app all; containers_of worker all)
    mapfile -t stores < <(containers_of redis all)
    grep -q "^volume [^ ]* $(volume_name qdrant-data)\$" <<<"$plan" && qdrant_volume=yes
    [[ -n "$qdrant_volume" ]] && mapfile -t -O "${#stores[@]}" stores < <(containers_of qdrant all)
    stop_containers "${consumers[@]}"
    stop_containers "${stores[@]}"

    while read -r kind file target; do
        [[ "$kind" == volume ]] || continue
        say "replacing the content of $target with $file"
        restore_volume "$image" "$target" "$work/$file" \
            "$([[ "$target" == "$(volume_name redis-data)" ]] && echo redis || echo plain)" ||
            die "restoring $target failed"
    done <<<"$plan"
    start_containers "${stores[@]}"

    if grep -q '^qdrant-snapshot ' <<<"$plan"; then
        local qdrant_c
        qdrant_c="$(containers_of qdrant all | head -n1)"
        [[ -n "$qdrant_c" ]] || die "no qdrant container of stack ${ORA_STACK} to restore the collections into"
        [[ "$(container_health "$qdrant_c")" == healthy ]] || start_containers "$qdrant_c"
        qdrant "$qdrant_c" restore-all "$work" || die "restoring the Qdrant collections failed"
    fi
    start_containers "${consumers[@]}"
    say "after: $(live_counts "$image")"
    RECOVERY=""
    rm -f "$pending"
    rm -rf "$STAGING/rollback"
    printf 'rolled back stack %s to backup %s in %s s; restarted: %s; the previous state is backup %s\n' \
        "$ORA_STACK" "$name" "$SECONDS" "${consumers[*]} ${stores[*]}" "$safety"
}

# Locks of restic processes that no longer run (a killed backup) stop prune and check;
# `restic unlock` removes only those. This script holds its own lock meanwhile.
unlock_stale() {
    restic unlock >/dev/null 2>&1 || say "warning: restic unlock failed in $RESTIC_REPOSITORY"
}

do_prune() {
    ensure_repo
    unlock_stale
    restic forget --tag "ora,stack=${ORA_STACK}" --keep-within "$RETENTION" --prune
}

do_check() {
    ensure_repo
    unlock_stale
    restic check "$@" || die "restic check of $RESTIC_REPOSITORY found problems (see above)"
    say "restic check of $RESTIC_REPOSITORY passed${*:+ ($*)}"
}

# The new password arrives on stdin. Every repository that uses the password file opens
# (with the old or the new password) or does not exist yet, else nothing is changed. Each
# one that opens with the old password gets the new one as a second key; only when all have
# it do the old keys go and the file change: the file and the repositories never disagree.
do_set_password() {
    local new
    mkdir -p "$(dirname "$RESTIC_PASSWORD_FILE")"
    lock
    new="$(mktemp "$RESTIC_PASSWORD_FILE.new.XXXXXX")"
    PENDING_FILE="$new"
    cat >"$new"
    [[ -s "$new" ]] || die "set-password: the new password on stdin is empty"
    if [[ -f "$RESTIC_PASSWORD_FILE" ]] && cmp -s "$new" "$RESTIC_PASSWORD_FILE"; then
        say "the password is unchanged"
        return 0
    fi
    local repositories=("$RESTIC_REPOSITORY") repository state rotating=()
    [[ -n "$OFFSITE" && "$OFFSITE_PASSWORD_FILE" == "$RESTIC_PASSWORD_FILE" ]] && repositories+=("$OFFSITE")
    for repository in "${repositories[@]}"; do
        state=wrong-password
        if [[ -f "$RESTIC_PASSWORD_FILE" ]]; then
            state="$(repository_state "$repository" "$RESTIC_PASSWORD_FILE")"
        fi
        if [[ "$state" == wrong-password ]]; then
            state="$(repository_state "$repository" "$new")"
            [[ "$state" != opens ]] || state=new
        fi
        case "$state" in
            opens) rotating+=("$repository") ;;
            new) say "$repository already opens with the new password" ;;
            absent) say "no repository at $repository yet: it will be created with the new password" ;;
            wrong-password) die "the repository $repository opens with neither the old nor the new password; nothing was changed" ;;
            *) die "${state#refused }; nothing was changed" ;;
        esac
    done
    local old_ids=() added=() old_id
    for repository in "${rotating[@]}"; do
        old_id="$(RESTIC_REPOSITORY="$repository" restic key list --json | py current-key)" ||
            die "restic key list failed in $repository; nothing was changed${added[*]:+ but the new password is a second key of: ${added[*]}}"
        old_ids+=("$old_id")
        RESTIC_REPOSITORY="$repository" restic key add --new-password-file "$new" >/dev/null ||
            die "restic key add failed in $repository; the password file was not changed and still opens every repository${added[*]:+ (the new password is a second key of: ${added[*]})}"
        added+=("$repository")
    done
    local i
    for i in "${!rotating[@]}"; do
        repository="${rotating[$i]}"
        if RESTIC_REPOSITORY="$repository" RESTIC_PASSWORD_FILE="$new" restic key remove "${old_ids[$i]}" >/dev/null; then
            say "rotated the key of $repository (removed key ${old_ids[$i]:0:8})"
        else
            say "warning: the old key of $repository could not be removed (restic key remove ${old_ids[$i]}); the new one is in place"
        fi
    done
    mv -f "$new" "$RESTIC_PASSWORD_FILE"
    PENDING_FILE=""
}

# The Python half of the script: manifests, verification, Qdrant's API, the metric.
python_lib() {
    cat <<'PY'
import datetime, hashlib, http.client, io, json, mmap, os, re, socket, subprocess, sys
import tarfile, urllib.parse, uuid

ARGS = sys.argv[1:]
VOLUMES = ("redis-data", "app-data")


def fail(message):
    print(f"backup.sh: error: {message}", file=sys.stderr)
    sys.exit(1)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- Qdrant's REST API, through `docker exec` into its container ---------------------------
# The container publishes nothing and has no curl: bash's /dev/tcp carries the bytes of one
# HTTP exchange, http.client speaks HTTP over that pipe. The API key is read inside the
# container (its secret file, else its environment) into this process: never argv.
SECRET = "/run/secrets/qdrant-api-key"
KEY_COMMAND = f'if [ -r {SECRET} ]; then cat {SECRET}; else printf %s "$QDRANT__SERVICE__API_KEY"; fi'
TUNNEL = "exec 3<>/dev/tcp/127.0.0.1/6333 4<&0 || exit 7; cat <&4 >&3 2>/dev/null & exec cat <&3 4<&-"


class Tunnel(http.client.HTTPConnection):
    def __init__(self, container):
        super().__init__("qdrant", timeout=900)
        self.container = container
        self.process = None

    def connect(self):
        mine, theirs = socket.socketpair()
        command = ["docker", "exec", "-i", self.container, "bash", "-c", TUNNEL]
        self.process = subprocess.Popen(command, stdin=theirs, stdout=theirs)
        theirs.close()
        self.sock = mine

    def close(self):
        super().close()
        if self.process:
            self.process.wait(timeout=60)
            self.process = None


class Qdrant:
    def __init__(self, container):
        self.container = container
        key = subprocess.run(["docker", "exec", container, "sh", "-c", KEY_COMMAND],
                             capture_output=True, check=True)
        self.key = key.stdout.decode().strip()

    def call(self, method, path, body=None, content_type="application/json", into=None):
        connection = Tunnel(self.container)
        headers = {"api-key": self.key, "Connection": "close"}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        if body is not None and not isinstance(body, bytes | bytearray):
            body, length = body
            headers["Content-Length"] = str(length)
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            if response.status == 200 and into is not None:
                digest = hashlib.sha256()
                try:
                    with open(into, "wb") as out:
                        for chunk in iter(lambda: response.read(1 << 20), b""):
                            out.write(chunk)
                            digest.update(chunk)
                except OSError as error:  # a full disk: one line, no traceback
                    fail(f"cannot write {into}: {error.strerror}")
                return digest.hexdigest()
            data = response.read()
        finally:
            connection.close()
        if response.status != 200:
            fail(f"Qdrant {method} {path}: HTTP {response.status}: {data[:300].decode(errors='replace')}")
        return json.loads(data)

    def version(self):
        return self.call("GET", "/").get("version", "?")

    def collections(self):
        names = [c["name"] for c in self.call("GET", "/collections")["result"]["collections"]]
        return {n: self.call("GET", f"/collections/{quote(n)}")["result"].get("points_count", 0)
                for n in sorted(names)}

    def aliases(self):
        found = self.call("GET", "/aliases")["result"]["aliases"]
        return {a["alias_name"]: a["collection_name"] for a in found}

    def set_aliases(self, wanted):
        """Makes the aliases exactly `wanted` ({alias: collection}) in one request: Qdrant
        applies a request's actions together, so the app never sees an alias missing."""
        current, actions = self.aliases(), []
        for alias, collection in sorted(current.items()):
            if wanted.get(alias) != collection:
                actions.append({"delete_alias": {"alias_name": alias}})
        for alias, collection in sorted(wanted.items()):
            if current.get(alias) != collection:
                actions.append({"create_alias": {"collection_name": collection, "alias_name": alias}})
        if actions:
            self.call("POST", "/collections/aliases", {"actions": actions})
        return actions

    def snapshot(self, name, target):
        created = self.call("POST", f"/collections/{quote(name)}/snapshots?wait=true")["result"]
        path = f"/collections/{quote(name)}/snapshots/{quote(created['name'])}"
        sha = self.call("GET", path, into=target)
        self.call("DELETE", path + "?wait=true")
        if created.get("checksum") and created["checksum"] != sha:
            fail(f"Qdrant snapshot {created['name']}: the download does not match its checksum")
        return sha

    def recover(self, name, source, sha):
        boundary = uuid.uuid4().hex
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="snapshot"; '
                f'filename="{os.path.basename(source)}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def chunks():
            yield head
            with open(source, "rb") as handle:
                yield from iter(lambda: handle.read(1 << 20), b"")
            yield tail

        length = len(head) + os.path.getsize(source) + len(tail)
        query = urllib.parse.urlencode({"priority": "snapshot", "wait": "true", "checksum": sha})
        self.call("POST", f"/collections/{quote(name)}/snapshots/upload?{query}",
                  body=(chunks(), length), content_type=f"multipart/form-data; boundary={boundary}")


def quote(text):
    return urllib.parse.quote(text, safe="")


def qdrant_command(container, action, *rest):
    api = Qdrant(container)
    if action == "counts":
        print(json.dumps({"version": api.version(), "collections": api.collections(),
                          "aliases": api.aliases()}))
    elif action == "snapshot-all":
        (work,) = rest
        print(f"qdrant-version {api.version()}")
        print(f"qdrant-aliases {json.dumps(api.aliases(), separators=(',', ':'))}")
        for name, points in api.collections().items():
            if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
                fail(f"Qdrant collection name {name!r} cannot be a file name")
            file = f"qdrant-{name}.snapshot"
            sha = api.snapshot(name, os.path.join(work, file))  # hashed while downloaded
            print(f"qdrant-snapshot {file} {name} {points} {sha}")
            print(f"backup.sh: qdrant collection {name}: snapshot of {points} points", file=sys.stderr)
    elif action == "restore-all":
        (work,) = rest
        manifest = json.load(open(os.path.join(work, "manifest.json")))
        wanted = {a["collection"]: a for a in manifest["artefacts"] if a.get("kind") == "qdrant-snapshot"}
        for name in api.collections():
            if name not in wanted:
                api.call("DELETE", f"/collections/{quote(name)}?wait=true")
                print(f"backup.sh: dropped the collection {name} (not in the backup)", file=sys.stderr)
        for name, item in sorted(wanted.items()):
            api.recover(name, os.path.join(work, item["file"]), item["sha256"])
            print(f"backup.sh: recovered the collection {name} from {item['file']}", file=sys.stderr)
        aliases = manifest.get("qdrant", {}).get("aliases")
        if aliases is None:
            print("backup.sh: the backup has no Qdrant aliases (made before they were recorded):"
                  " the aliases were left as they are", file=sys.stderr)
            return
        missing = sorted(a for a, c in aliases.items() if c not in wanted)
        if missing:
            fail(f"the backup's aliases {missing} name collections it does not hold")
        actions = api.set_aliases(aliases)
        shown = ", ".join(f"{a} -> {c}" for a, c in sorted(aliases.items())) or "none"
        print(f"backup.sh: Qdrant aliases restored ({len(actions)} changes): {shown}", file=sys.stderr)
    else:
        fail(f"unknown qdrant action {action}")


# -- Redis's multi-part AOF ----------------------------------------------------------------
def aof_state(text):
    info = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    busy = info.get("aof_rewrite_in_progress") == "1" or info.get("aof_rewrite_scheduled") == "1"
    enabled = "on" if info.get("aof_enabled") == "1" else "off"
    return f"{enabled} {info.get('aof_rewrites', '?')} {'busy' if busy else 'idle'}"


def whole_commands(path):
    """Bytes of the AOF file at `path` up to its last whole command, and before a MULTI
    that has no EXEC yet: what Redis would replay of a file cut while it was written."""
    size = os.path.getsize(path)
    if size == 0:
        return 0
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
        pos = end = multi = 0
        open_multi = False
        while pos < size:
            start = pos
            line = m.find(b"\r\n", pos)
            if line < 0:
                break
            if m[pos:pos + 1] == b"#":  # an annotation (aof-timestamp-enabled)
                pos = end = line + 2
                continue
            if m[pos:pos + 1] != b"*":
                fail(f"{path}: not an AOF command at byte {pos}")
            pos, first, whole = line + 2, None, True
            for _ in range(int(m[start + 1:line])):
                line = m.find(b"\r\n", pos)
                if line < 0 or m[pos:pos + 1] != b"$":
                    whole = False
                    break
                data = line + 2
                pos = data + int(m[pos + 1:line]) + 2
                if pos > size:
                    whole = False
                    break
                first = first if first is not None else m[data:min(data + 5, pos - 2)].upper()
            if not whole:
                break
            if first == b"MULTI":
                open_multi, multi = True, start
            elif first == b"EXEC":
                open_multi = False
            end = pos
        return multi if open_multi else end


def redis_aof(target):
    """The AOF tar on stdin (manifest first) to `target`, the last incr file cut to whole
    commands; prints the bytes kept of it."""
    try:
        source = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
    except tarfile.ReadError as error:
        if "empty" in str(error):
            sys.exit(4)  # the copy failed; the caller says why
        fail(f"the copy of the AOF is not a tar stream: {error}")
    try:
        kept = copy_aof(source, target)
    except OSError as error:  # the caller says it, once (a full disk: no traceback)
        print(f"cannot write {error.filename or target}: {error.strerror}")
        sys.exit(5)
    except (tarfile.TarError, EOFError) as error:
        print(f"the copy of the AOF ended early: {error}")
        sys.exit(6)
    print(kept)


def copy_aof(source, target):
    last, kept = None, 0
    with open(target, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as out:
        for member in source:
            data = source.extractfile(member) if member.isfile() else None
            if member.name.endswith(".manifest"):
                text = data.read()
                incr = [line.split()[1] for line in text.decode().splitlines() if line.split()[-1:] == ["i"]]
                last = f"appendonlydir/{incr[-1]}" if incr else None
                out.addfile(member, io.BytesIO(text))
            elif member.name == last:
                spool = f"{target}.incr"
                with open(spool, "wb") as copy:
                    for chunk in iter(lambda: data.read(1 << 20), b""):
                        copy.write(chunk)
                kept = whole_commands(spool)
                member.size = kept
                with open(spool, "rb") as copy:
                    out.addfile(member, copy)
                os.remove(spool)
            else:
                out.addfile(member, data)
    if last is None:
        fail("the AOF manifest names no incr file")
    return kept


# -- manifest ------------------------------------------------------------------------------
def app_counts(path):
    files = size = 0
    with tarfile.open(path) as archive:
        for member in archive:
            if member.isfile():
                files, size = files + 1, size + member.size
    return files, size


def manifest(work, name, stack, host, keys):
    artefacts, images, version, aliases = [], [], "?", {}
    for line in open(os.path.join(work, "artefacts")).read().splitlines():
        kind, *fields = line.split(" ")
        if kind == "qdrant-aliases":
            aliases = json.loads(line.split(" ", 1)[1])
            continue
        if kind == "image":
            service, container, image, image_id = fields
            images.append({"service": service, "container": container, "image": image,
                           "image_id": image_id})
            continue
        if kind == "qdrant-version":
            version = fields[0]
            continue
        path = os.path.join(work, fields[0])
        item = {"file": fields[0], "kind": kind, "bytes": os.path.getsize(path),
                "sha256": fields[3] if kind == "qdrant-snapshot" else sha256_of(path)}
        if kind == "volume":
            item["volume"] = fields[1]
            if fields[2] == "redis-aof":
                item["format"] = "tar"
                item["consistency"] = (
                    "the multi-part AOF (manifest, base, incr files) between two commands, no"
                    f" rewrite during the copy; the last incr file kept to {fields[3]} bytes")
            elif fields[2] == "redis":
                item["format"] = "tar"
                item["consistency"] = f"the BGSAVE snapshot dump.rdb only (redis LASTSAVE {fields[3]})"
            else:
                item["format"] = "tar"
                item["files"], item["content_bytes"] = app_counts(path)
                item["consistency"] = "copy of the live volume (tar; a file written meanwhile may be torn)"
        else:
            item["collection"], item["points"] = fields[1], int(fields[2])
            item["format"] = "qdrant collection snapshot"
            item["consistency"] = "Qdrant's own snapshot (POST /collections/{name}/snapshots)"
        artefacts.append(item)
    app = next(a for a in artefacts if a.get("volume", "").endswith("-app-data"))
    snaps = [a for a in artefacts if a["kind"] == "qdrant-snapshot"]
    counts = {"qdrant_collections": len(snaps), "qdrant_points": sum(a["points"] for a in snaps),
              "redis_keys": int(keys), "app_files": app["files"], "app_bytes": app["content_bytes"]}
    document = {
        "format": 3, "name": name, "stack": stack, "host": host,
        "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "qdrant": {"version": version, "collections": {a["collection"]: a["points"] for a in snaps},
                   "aliases": aliases},
        "counts": counts, "artefacts": artefacts, "images": images,
    }
    try:
        with open(os.path.join(work, "manifest.json"), "w") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
    except OSError as error:  # a full staging disk: one line, no traceback
        fail(f"cannot write {work}/manifest.json: {error.strerror} (disk full?); no backup was stored")
    print(sum(a["bytes"] for a in artefacts))
    print(" ".join(f"{k}={v}" for k, v in counts.items()))


def verify(directory, stack):
    path = os.path.join(directory, "manifest.json")
    if not os.path.isfile(path):
        fail("the snapshot has no manifest.json: not a backup.sh backup")
    document = json.load(open(path))
    problems, plan = [], []
    if document.get("stack") != stack:
        problems.append(f"the manifest is of stack {document.get('stack')!r}, not {stack!r}")
    names = VOLUMES if document.get("format", 1) >= 2 else (*VOLUMES, "qdrant-data")
    expected = {f"ora-{stack}-{v}" for v in names}
    found = {a.get("volume") for a in document.get("artefacts", []) if a.get("kind", "volume") == "volume"}
    if found != expected:
        problems.append(f"the manifest names volumes {sorted(found)}, expected {sorted(expected)}")
    for item in document.get("artefacts", []):
        name = item.get("file", "")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            problems.append(f"bad artefact file name {name!r}")
            continue
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            problems.append(f"{name}: missing")
        elif sha256_of(path) != item.get("sha256") or os.path.getsize(path) != item.get("bytes"):
            problems.append(f"{name}: sha256 or size does not match the manifest")
        else:
            print(f"verified {name}: sha256 {item['sha256'][:16]}... {item['bytes']} bytes", file=sys.stderr)
            kind = item.get("kind", "volume")
            plan.append(f"{kind} {name} {item.get('volume') or item.get('collection')}")
    if problems:
        fail("verification failed, nothing was changed:\n  " + "\n  ".join(problems))
    print("\n".join(plan))


# -- small filters -------------------------------------------------------------------------
def human(size):
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def list_snapshots():
    snaps = sorted(json.load(sys.stdin) or [], key=lambda s: s["time"])
    rows = [("NAME", "TIME (UTC)", "SIZE", "COLLECTIONS", "POINTS", "REDIS KEYS", "APP FILES", "APP BYTES", "SNAPSHOT")]
    for s in snaps:
        tags = dict(t.split("=", 1) for t in s.get("tags", []) if "=" in t)
        size = human(int(tags["bytes"])) if tags.get("bytes", "").isdigit() else "?"
        counts = [tags.get(k, "?") for k in ("qdrant_collections", "qdrant_points", "redis_keys", "app_files", "app_bytes")]
        rows.append((tags.get("name", "?"), s["time"][:19].replace("T", " "), size, *counts, s["short_id"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def metric(path, stack, status, now, size, added, duration):
    label = f'{{stack="{stack}"}}'
    previous = {}
    if os.path.exists(path):
        for line in open(path).read().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                previous[key] = value
    success = f"ora_backup_last_success_timestamp_seconds{label}"
    values = {
        "ora_backup_last_success_timestamp_seconds": now if status == "1" else previous.get(success, "0"),
        "ora_backup_last_size_bytes": size if status == "1" else previous.get(f"ora_backup_last_size_bytes{label}", "0"),
        "ora_backup_last_added_bytes": added if status == "1" else previous.get(f"ora_backup_last_added_bytes{label}", "0"),
        "ora_backup_last_duration_seconds": duration,
        "ora_backup_last_status": status,
    }
    helps = {
        "ora_backup_last_success_timestamp_seconds": "Unix time of the newest successful backup.",
        "ora_backup_last_size_bytes": "Bytes of the newest successful backup before deduplication.",
        "ora_backup_last_added_bytes": "Bytes the newest successful backup added to the repository.",
        "ora_backup_last_duration_seconds": "Seconds the last backup run took.",
        "ora_backup_last_status": "1 if the last backup run succeeded, else 0.",
    }
    text = "".join(f"# HELP {k} {helps[k]}\n# TYPE {k} gauge\n{k}{label} {v}\n" for k, v in values.items())
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as out:
        out.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def main():
    command, *rest = ARGS
    if command == "newest-id":
        snaps = sorted(json.load(sys.stdin) or [], key=lambda s: s["time"])
        print(snaps[-1]["id"] if snaps else "")
    elif command == "redis-keys":
        text = sys.stdin.read()
        print(sum(int(n) for n in re.findall(r"^db\d+:keys=(\d+)", text, re.M)))
    elif command == "sum-sizes":
        sizes = [int(line) for line in sys.stdin.read().split()]
        print(len(sizes), sum(sizes))
    elif command == "summary":
        value = json.loads(sys.stdin.read()).get(rest[0], "")
        print(value)
    elif command == "current-key":
        print(next(k["id"] for k in json.load(sys.stdin) if k.get("current")))
    elif command == "counts-line":
        keys, usage, collections = rest
        files, size = (usage.split() + ["?", "?"])[:2]
        described = json.loads(collections)
        found, aliases = described.get("collections", {}), described.get("aliases", {})
        shown = ", ".join(f"{a} -> {c}" for a, c in sorted(aliases.items())) or "none"
        print(f"{len(found)} collections, {sum(found.values())} points; {keys} redis keys; "
              f"{files} files, {size} bytes of app data; aliases: {shown}")
    elif command == "aof-state":
        print(aof_state(sys.stdin.read()))
    elif command == "redis-aof":
        redis_aof(*rest)
    elif command == "manifest":
        manifest(*rest)
    elif command == "verify":
        verify(*rest)
    elif command == "list":
        list_snapshots()
    elif command == "metric":
        metric(*rest)
    elif command == "qdrant":
        qdrant_command(*rest)
    else:
        fail(f"unknown helper command {command}")


main()
PY
}

main() {
    local command="${1:-}"
    PYLIB="$(python_lib)"
    [[ $# -gt 0 ]] && shift
    case "$command" in
        create)
            [[ $# -le 1 ]] || usage
            METRIC=yes
            preflight
            do_create "$@"
            ;;
        list)
            [[ $# -eq 0 ]] || usage
            preflight
            do_list
            ;;
        rollback)
            [[ $# -eq 1 ]] || die "rollback needs exactly one NAME (see: $PROG list)"
            preflight
            do_rollback "$1"
            ;;
        prune)
            [[ $# -eq 0 ]] || usage
            preflight
            do_prune
            ;;
        check)
            preflight
            do_check "$@"
            ;;
        set-password)
            [[ $# -eq 0 ]] || usage
            command -v restic >/dev/null 2>&1 || die "'restic' is not installed (or not on PATH)"
            do_set_password
            ;;
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"
