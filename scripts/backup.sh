#!/usr/bin/env bash
# Ora backups on the Docker host, into a restic repository (encrypted, deduplicated).
#
#   backup.sh create [NAME]   Redis BGSAVE, then the redis, qdrant and app data volumes as
#                             tar streams + manifest.json, into one restic snapshot
#   backup.sh list            this stack's backups: name, time (UTC), size
#   backup.sh rollback NAME   verify NAME's checksums, take a safety backup of the current
#                             state, stop the stateful containers, replace the volumes, start
#                             them again and wait until healthy
#   backup.sh prune           forget this stack's snapshots older than 30 days, and prune
#
# Environment (defaults in brackets):
#   ORA_STACK [prod]  RESTIC_REPOSITORY [/opt/ora/backups/restic] (any restic URL)
#   RESTIC_PASSWORD_FILE [/opt/ora/.restic-password]  ORA_BACKUP_STAGING [/opt/ora/backups/staging]
#   ORA_BACKUP_HEALTH_TIMEOUT [120] seconds to wait for healthy containers after a rollback
#
# Containers are found by their labels (org.ora.stack, org.ora.service), never by name.
# Runs as root or as a member of the docker group. The password is read by restic from
# its file only: it is never an argument, an environment value, or printed.
set -euo pipefail
umask 077

ORA_STACK="${ORA_STACK:-prod}"
export RESTIC_REPOSITORY="${RESTIC_REPOSITORY:-/opt/ora/backups/restic}"
export RESTIC_PASSWORD_FILE="${RESTIC_PASSWORD_FILE:-/opt/ora/.restic-password}"
# The password file is the only source of the password: never a value in the environment.
unset RESTIC_PASSWORD RESTIC_PASSWORD_COMMAND
STAGING="${ORA_BACKUP_STAGING:-/opt/ora/backups/staging}"
HEALTH_TIMEOUT="${ORA_BACKUP_HEALTH_TIMEOUT:-120}"
RETENTION="30d"
NAME_RE='^[A-Za-z0-9._-]+$'
VOLUMES=(redis-data qdrant-data app-data)
# Consumers stop first and start last; the data stores the other way round.
STOP_ORDER=(app worker redis qdrant)
HELPER_LABEL="org.ora.backup-helper=${ORA_STACK}"

PROG="$(basename "$0")"

die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

say() {
    printf '%s: %s\n' "$PROG" "$*" >&2
}

usage() {
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

utc_stamp() {
    date -u +%Y%m%dT%H%M%SZ
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
    mkdir -p "$STAGING"
    # One backup.sh at a time per staging dir (the timer and an operator may meet).
    exec 9>"$STAGING/.lock"
    flock -n 9 || die "another backup.sh holds $STAGING/.lock; try again when it has finished"
}

ensure_repo() {
    if ! restic cat config >/dev/null 2>&1; then
        say "initialising the restic repository $RESTIC_REPOSITORY"
        restic init >/dev/null || die "cannot open or initialise the restic repository $RESTIC_REPOSITORY"
    fi
}

# Names of this stack's containers of one service; running ones only unless "all" is given.
containers_of() {
    local service="$1" scope="${2:-running}" flags=()
    [[ "$scope" == all ]] && flags=(--all)
    docker ps "${flags[@]}" --filter "label=org.ora.stack=${ORA_STACK}" \
        --filter "label=org.ora.service=${service}" --format '{{.Names}}' | sort
}

redis_container() {
    local found
    found="$(containers_of redis)"
    [[ -n "$found" ]] || die "no running redis container labelled org.ora.stack=${ORA_STACK}, org.ora.service=redis"
    [[ "$(wc -l <<<"$found")" -eq 1 ]] || die "more than one redis container for stack ${ORA_STACK}: ${found//$'\n'/ }"
    printf '%s\n' "$found"
}

# The image of the helper containers: the redis image (it has sh, tar and find, and is
# on the host already, so nothing is pulled). Works with the redis container stopped.
helper_image() {
    local found
    found="$(containers_of redis all | head -n1)"
    [[ -n "$found" ]] || die "no redis container labelled org.ora.stack=${ORA_STACK}: its image runs the volume copies"
    docker inspect --format '{{.Image}}' "$found"
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
    stack_snapshots "name=$1" | python3 -c '
import json, sys
snaps = sorted(json.load(sys.stdin) or [], key=lambda s: s["time"])
print(snaps[-1]["id"] if snaps else "")'
}

# redis-cli in the redis container, the password read there from its secret file: never an
# argument or an environment value of docker exec.
redis_cli() {
    local redis="$1"
    shift
    # shellcheck disable=SC2016 # expanded inside the container
    docker exec "$redis" sh -c 'REDISCLI_AUTH="$(cat /run/secrets/redis-password)" exec redis-cli "$@"' redis-cli "$@"
}

redis_bgsave() {
    local redis="$1" before now status deadline
    before="$(redis_cli "$redis" LASTSAVE)" || die "redis-cli LASTSAVE failed in $redis"
    [[ "$before" =~ ^[0-9]+$ ]] || die "unexpected LASTSAVE reply from $redis: $before"
    # LASTSAVE has a resolution of one second: make a new save distinguishable.
    now="$(date +%s)"
    if ((now <= before)); then sleep $((before - now + 1)); fi
    # SCHEDULE: if an AOF rewrite is running, the save starts right after it.
    status="$(redis_cli "$redis" BGSAVE SCHEDULE)" || die "redis-cli BGSAVE failed in $redis"
    say "redis $redis: $status"
    deadline=$((SECONDS + 300))
    until (($(redis_cli "$redis" LASTSAVE) > before)); do
        ((SECONDS < deadline)) || die "redis $redis: BGSAVE did not finish within 300 s"
        sleep 0.5
    done
    redis_cli "$redis" INFO persistence | grep -q '^rdb_last_bgsave_status:ok' ||
        die "redis $redis: the last BGSAVE failed (redis-cli INFO persistence)"
}

# tar stream of a volume (read-only mount) into a file, through a throwaway container.
archive_volume() {
    local image="$1" volume="$2" target="$3"
    docker run --rm --network none --user 0:0 --security-opt no-new-privileges \
        --label "$HELPER_LABEL" --log-driver none \
        -v "${volume}:/v:ro" --entrypoint tar "$image" \
        -C /v --numeric-owner -cf - . >"$target" ||
        die "archiving the volume $volume failed"
}

# Empties a volume and unpacks a tar file into it, through a throwaway container.
restore_volume() {
    local image="$1" volume="$2" source="$3"
    docker run --rm -i --network none --user 0:0 --security-opt no-new-privileges \
        --label "$HELPER_LABEL" --log-driver none \
        -v "${volume}:/v" --entrypoint sh "$image" \
        -c 'find /v -mindepth 1 -delete && tar -C /v --numeric-owner -xpf -' <"$source"
}

write_manifest() {
    local dir="$1" name="$2" redis_lastsave="$3"
    shift 3
    # Remaining arguments: "file volume bytes sha256" lines, then "--", then
    # "service container image image_id" lines.
    python3 - "$dir/manifest.json" "$name" "$ORA_STACK" "$(hostname)" \
        "$redis_lastsave" "$@" <<'PY'
import datetime, json, sys

path, name, stack, host, lastsave, *rest = sys.argv[1:]
split = rest.index("--")
artefacts = []
for line in rest[:split]:
    file, volume, size, sha = line.split(" ")
    artefacts.append({"file": file, "volume": volume, "bytes": int(size), "sha256": sha,
                      "format": "tar"})
for item in artefacts:
    if item["volume"].endswith("-qdrant-data"):
        item["consistency"] = ("crash-consistent copy of the live storage; Qdrant recovers it "
                               "from its write-ahead log on start (the snapshot API is not used)")
    elif item["volume"].endswith("-redis-data"):
        item["consistency"] = ("copied after a completed BGSAVE (dump.rdb) with the AOF; "
                               f"redis LASTSAVE {lastsave}")
    else:
        item["consistency"] = "copy of the live volume"
images = []
for line in rest[split + 1:]:
    service, container, image, image_id = line.split(" ")
    images.append({"service": service, "container": container, "image": image,
                   "image_id": image_id})
manifest = {
    "format": 1,
    "name": name,
    "stack": stack,
    "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "host": host,
    "artefacts": artefacts,
    "images": images,
}
with open(path, "w") as out:
    json.dump(manifest, out, indent=2)
    out.write("\n")
PY
}

do_create() {
    local name="${1:-$(utc_stamp)}"
    [[ "$name" =~ $NAME_RE ]] || die "backup name '$name' must match $NAME_RE"
    ensure_repo
    local existing redis image work volume file size sum total=0 lastsave artefacts=() running=()
    existing="$(snapshot_id_of "$name")"
    [[ -z "$existing" ]] || die "a backup named '$name' already exists for stack ${ORA_STACK}"
    redis="$(redis_container)"
    image="$(helper_image)"
    for volume in "${VOLUMES[@]}"; do require_volume "$(volume_name "$volume")"; done

    work="$STAGING/create"
    rm -rf "$work"
    mkdir -p "$work"
    trap 'rm -rf "$STAGING/create"' EXIT

    redis_bgsave "$redis"
    lastsave="$(redis_cli "$redis" LASTSAVE)"
    for volume in "${VOLUMES[@]}"; do
        volume="$(volume_name "$volume")"
        file="${volume}.tar"
        archive_volume "$image" "$volume" "$work/$file"
        size="$(stat -c %s "$work/$file")"
        sum="$(sha256sum "$work/$file" | cut -d' ' -f1)"
        total=$((total + size))
        artefacts+=("$file $volume $size $sum")
        say "archived $volume: $size bytes"
    done
    local service container
    for service in redis qdrant app worker nginx; do
        while read -r container; do
            [[ -n "$container" ]] || continue
            running+=("$service $container $(docker inspect --format '{{.Config.Image}} {{.Image}}' "$container")")
        done < <(containers_of "$service")
    done
    write_manifest "$work" "$name" "$lastsave" "${artefacts[@]}" -- "${running[@]}"

    (cd "$work" && restic backup --quiet --tag ora --tag "stack=${ORA_STACK}" --tag "name=${name}" \
        --tag "bytes=${total}" .) || die "restic backup failed"
    rm -rf "$work"
    trap - EXIT
    say "backup $name of stack ${ORA_STACK} stored in $RESTIC_REPOSITORY ($total bytes before dedup)"
    printf '%s\n' "$name"
}

do_list() {
    ensure_repo
    stack_snapshots | python3 -c '
import json, sys
snaps = sorted(json.load(sys.stdin) or [], key=lambda s: s["time"])
rows = [("NAME", "TIME (UTC)", "SIZE", "SNAPSHOT")]
for s in snaps:
    tags = dict(t.split("=", 1) for t in s.get("tags", []) if "=" in t)
    size = tags.get("bytes", "")
    if size.isdigit():
        value, unit = float(size), "B"
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if value < 1024 or unit == "TiB":
                break
            value /= 1024
        size = f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
    else:
        size = "?"
    rows.append((tags.get("name", "?"), s["time"][:19].replace("T", " "), size, s["short_id"]))
widths = [max(len(r[i]) for r in rows) for i in range(4)]
for r in rows:
    print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())'
}

verify_restored() {
    local dir="$1"
    [[ -f "$dir/manifest.json" ]] || die "the snapshot has no manifest.json: not a backup.sh backup"
    python3 - "$dir" "$ORA_STACK" <<'PY' || exit 1
import hashlib, json, os, re, sys

directory, stack = sys.argv[1:]
manifest = json.load(open(os.path.join(directory, "manifest.json")))
problems = []
if manifest.get("stack") != stack:
    problems.append(f"the manifest is of stack {manifest.get('stack')!r}, not {stack!r}")
expected = {f"ora-{stack}-{v}" for v in ("redis-data", "qdrant-data", "app-data")}
found = {a.get("volume") for a in manifest.get("artefacts", [])}
if found != expected:
    problems.append(f"the manifest names volumes {sorted(found)}, expected {sorted(expected)}")
for item in manifest.get("artefacts", []):
    name = item.get("file", "")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        problems.append(f"bad artefact file name {name!r}")
        continue
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        problems.append(f"{name}: missing")
        continue
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != item.get("sha256") or os.path.getsize(path) != item.get("bytes"):
        problems.append(f"{name}: sha256 or size does not match the manifest")
    else:
        print(f"verified {name}: sha256 {item['sha256'][:16]}... {item['bytes']} bytes",
              file=sys.stderr)
if problems:
    print("backup.sh: error: verification failed, nothing was changed:\n  " + "\n  ".join(problems),
          file=sys.stderr)
    sys.exit(1)
for item in manifest["artefacts"]:
    print(f"{item['file']} {item['volume']}")
PY
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

do_rollback() {
    local name="${1:-}"
    [[ -n "$name" ]] || die "rollback needs the NAME of a backup (see: $PROG list)"
    [[ "$name" =~ $NAME_RE ]] || die "backup name '$name' must match $NAME_RE"
    ensure_repo
    local snapshot
    snapshot="$(snapshot_id_of "$name")"
    [[ -n "$snapshot" ]] || die "no backup named '$name' for stack ${ORA_STACK} in $RESTIC_REPOSITORY (see: $PROG list); nothing was changed"

    local work="$STAGING/restore" image plan
    rm -rf "$work"
    mkdir -p "$work"
    trap 'rm -rf "$STAGING/restore"' EXIT
    say "restoring snapshot ${snapshot:0:8} ($name) into $work"
    restic restore --quiet "$snapshot" --target "$work" >/dev/null || die "restic restore of $name failed; nothing was changed"
    plan="$(verify_restored "$work")"
    image="$(helper_image)"
    local file volume
    while read -r file volume; do require_volume "$volume"; done <<<"$plan"

    # Nothing is ever lost: the current state first becomes a backup of its own.
    local safety t
    safety="pre-rollback-${name}-$(utc_stamp)"
    [[ ${#safety} -le 200 ]] || safety="pre-rollback-$(utc_stamp)"
    say "taking the safety backup $safety of the current state"
    t=$SECONDS
    (do_create "$safety" >/dev/null)
    say "safety backup taken in $((SECONDS - t)) s"
    trap 'rm -rf "$STAGING/restore"' EXIT

    # Consumers first, then the data stores; `docker stop` stops the containers of one
    # call in parallel, each within its own stop timeout.
    local consumers=() stores=() stopped=() service
    for service in "${STOP_ORDER[@]}"; do
        case "$service" in
            app | worker) mapfile -t -O "${#consumers[@]}" consumers < <(containers_of "$service") ;;
            *) mapfile -t -O "${#stores[@]}" stores < <(containers_of "$service") ;;
        esac
    done
    if [[ ${#consumers[@]} -gt 0 ]]; then
        say "stopping ${consumers[*]}"
        t=$SECONDS
        docker stop "${consumers[@]}" >/dev/null
        say "stopped in $((SECONDS - t)) s"
    fi
    if [[ ${#stores[@]} -gt 0 ]]; then
        say "stopping ${stores[*]}"
        t=$SECONDS
        docker stop "${stores[@]}" >/dev/null
        say "stopped in $((SECONDS - t)) s"
    fi
    stopped=("${consumers[@]}" "${stores[@]}")
    [[ ${#stopped[@]} -gt 0 ]] || say "no running app/worker/redis/qdrant container of stack ${ORA_STACK}"

    while read -r file volume; do
        say "replacing the content of $volume with $file"
        restore_volume "$image" "$volume" "$work/$file" ||
            die "restoring $volume failed; containers left stopped: ${stopped[*]}. The state before the rollback is the backup $safety"
    done <<<"$plan"

    # Data stores first, healthy, then their consumers.
    if [[ ${#stores[@]} -gt 0 ]]; then
        say "starting ${stores[*]}"
        docker start "${stores[@]}" >/dev/null
        wait_healthy "${stores[@]}"
    fi
    if [[ ${#consumers[@]} -gt 0 ]]; then
        say "starting ${consumers[*]}"
        docker start "${consumers[@]}" >/dev/null
        wait_healthy "${consumers[@]}"
    fi
    rm -rf "$work"
    trap - EXIT
    printf 'rolled back stack %s to backup %s in %s s (volumes: %s); restarted: %s; the previous state is backup %s\n' \
        "$ORA_STACK" "$name" "$SECONDS" "$(cut -d' ' -f2 <<<"$plan" | paste -sd' ')" "${stopped[*]:-none}" "$safety"
}

do_prune() {
    ensure_repo
    restic forget --tag "ora,stack=${ORA_STACK}" --keep-within "$RETENTION" --prune
}

main() {
    local command="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$command" in
        create)
            [[ $# -le 1 ]] || usage
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
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"
