"""The edge's configuration changes in place: nginx reloads, it is never replaced for it.

The rendered files and the certificate live on a volume, one directory per release:

    /etc/ora-edge/releases/<release>/   nginx.conf, conf.d/, snippets/, html/, tls/
    /etc/ora-edge/live -> releases/<release>

A change of config or certificate replaces only a one-shot *installer*
(infra/targets/host/oneshot.py) of the nginx image: it writes the new release, runs that
image's own `nginx -t` on it, and only if it passes switches `live` with an atomic rename;
otherwise it exits non-zero, `live` is untouched, and `pulumi up` fails quoting nginx's
error. The nginx container's launcher polls `live`, tests the new release again and reloads
gracefully (`nginx -s reload`: new workers take new connections, old ones finish theirs).
The container itself changes only with its image, ports or mounts.

The installer then waits for nginx to have moved onto the release: the launcher writes
the release it loaded to `loaded` on a small state volume, once `nginx -s reload`
succeeded and every worker that still takes connections is a new one (the old ones
only finish what they have). Only then does the installer exit, so Pulumi removes the
replicas an old release named only after nginx stopped sending them requests. The
launcher also touches `alive` on every poll: with no fresh heartbeat (first deploy, or
nginx down) there is nobody to wait for, and nginx loads `live` when it starts.

Why this mechanism: pulumi-docker has no exec resource, a pulumi-command `docker exec`
would need a Docker CLI next to Pulumi and a second path for remote hosts, and uploads
into the nginx container force a replacement and a writable root. The volume works the
same on a local engine and over SSH, and keeps nginx's root filesystem read-only.
"""

from __future__ import annotations

ROOT = "/etc/ora-edge"
LIVE = f"{ROOT}/live"
STAGING = "/staging"  # where the installer receives its uploads
KEEP_RELEASES = 3  # the live one and two before it, for a look back
# The JSON access log file monitoring's mtail reads, rotated by the launcher like Docker's
# json-file logs: 1 MB x 3 (mtail follows the file across a rotation).
LOG_ROTATE_BYTES = 1024 * 1024
LOG_KEEP = 2
PRIVATE_KEY = "tls/privkey.pem"
STATE = "/run/ora-edge"  # the launcher's `loaded` and `alive` (a volume, nginx writes it)
HEARTBEAT_STALE_SECONDS = 10  # an older `alive`: no launcher is watching `live`
ACK_TIMEOUT_SECONDS = 60  # nginx -t plus a graceful reload take about a second
DRAIN_TIMEOUT_SECONDS = 30  # old workers stop taking connections at once after a reload


def install_script(
    owner: str,
    private_key: str | None = PRIVATE_KEY,
    root: str = ROOT,
    staging: str = STAGING,
    nginx: str = "nginx",
    state: str = STATE,
    logs_dir: str | None = None,
) -> str:
    """The installer's shell: a new release from `staging`, validated, then made live,
    then (when a launcher is alive) the launcher's acknowledgement that nginx serves it.

    The release stays root-owned and world-readable except the private key, which goes
    0400 to `owner` (nginx's UID) once nginx -t has read it: the installer has no
    CAP_DAC_OVERRIDE, so everything it must later remove stays its own."""
    give_key = (
        f'chmod 0400 "$dir/{private_key}"\nchown {owner} "$dir/{private_key}"\n'
        if private_key
        else ""
    )
    return f"""set -eu
release="$(date -u +%Y%m%dT%H%M%S.%NZ)"
dir="{root}/releases/$release"
mkdir -p "{root}/releases"
cp -R "{staging}/." "$dir/"
chmod -R u=rwX,go=rX "$dir"
{_logs_to_root(logs_dir)}if ! {nginx} -t -q -c "$dir/nginx.conf"; then
    echo "edge: release $release fails nginx -t (above); the live configuration is unchanged" >&2
    rm -rf "$dir" "{staging}"
{_own_logs(logs_dir, owner, indent="    ")}    exit 1
fi
{_own_logs(logs_dir, owner)}{give_key}ln -sfn "releases/$release" "{root}/.live.next"
mv -Tf "{root}/.live.next" "{root}/live"
echo "edge: release $release is live"
ls -1 "{root}/releases" | sort | head -n -{KEEP_RELEASES} | while read -r old; do
    [ "$old" = "$release" ] || rm -rf "{root}/releases/$old"
done
rm -rf "{staging}"
{_wait_script(owner, state)}"""


def _wait_script(owner: str, state: str) -> str:
    tries = ACK_TIMEOUT_SECONDS * 5
    return f"""mkdir -p "{state}"
chown {owner} "{state}"
beat="$(stat -c %Y "{state}/alive" 2>/dev/null || echo 0)"
if [ $(($(date +%s) - beat)) -gt {HEARTBEAT_STALE_SECONDS} ]; then
    echo "edge: no nginx is running; it loads release $release when it starts"
    exit 0
fi
tries=0
until [ "$(cat "{state}/loaded" 2>/dev/null)" = "releases/$release" ]; do
    if [ "$(cat "{state}/loaded" 2>/dev/null)" = "failed releases/$release" ]; then
        echo "edge: nginx did not load release $release (its log says why)" >&2
        exit 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -gt {tries} ]; then
        echo "edge: nginx did not acknowledge release $release within {ACK_TIMEOUT_SECONDS} s" >&2
        exit 1
    fi
    sleep 0.2
done
echo "edge: nginx serves release $release"
"""


def _logs_to_root(logs_dir: str | None) -> str:
    """nginx -t opens the log files for writing. This root has no CAP_DAC_OVERRIDE, so a
    file nginx owns (mode 0644) is refused: CAP_CHOWN lends them to root for the test."""
    if not logs_dir:
        return ""
    return f'mkdir -p "{logs_dir}"\nchown -R 0:0 "{logs_dir}"\n'


def _own_logs(logs_dir: str | None, owner: str, indent: str = "") -> str:
    """nginx -t (run as root here) creates the log files: hand them (back) to nginx."""
    if not logs_dir:
        return ""
    # No chmod: once nginx owns it, this root without CAP_FOWNER may not (Docker made it 0755).
    return f'{indent}mkdir -p "{logs_dir}"\n{indent}chown -R {owner} "{logs_dir}"\n'


def _rotate(access_log_file: str | None, nginx: str, conf: str) -> str:
    if not access_log_file:
        return ""
    log, shifts = access_log_file, ""
    for n in range(LOG_KEEP, 1, -1):
        shifts += f'[ -e "{log}.{n - 1}" ] && mv -f "{log}.{n - 1}" "{log}.{n}"; '
    return f"""    size="$(stat -c %s {log} 2>/dev/null || echo 0)"
    if [ "$size" -gt {LOG_ROTATE_BYTES} ]; then
        {shifts}mv -f "{log}" "{log}.1" && {nginx} -s reopen -c {conf}
    fi
"""


def rotating_launch_script(
    conf: str, access_log_file: str, nginx: str = "nginx", poll_seconds: float = 1
) -> str:
    """Process 1 of an nginx whose files are mounted, not released (the swarm target):
    nginx in the foreground, `access_log_file` rotated as launch_script rotates it, and
    SIGQUIT and SIGTERM passed on."""
    return f"""{nginx} -c {conf} -g 'daemon off;' &
pid=$!
trap 'kill -QUIT "$pid" 2>/dev/null' QUIT
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
while kill -0 "$pid" 2>/dev/null; do
    sleep {poll_seconds}
{_rotate(access_log_file, nginx, conf)}done
wait "$pid"
"""


def launch_script(
    root: str = ROOT,
    nginx: str = "nginx",
    poll_seconds: float = 1,
    state: str = STATE,
    drain_seconds: int = DRAIN_TIMEOUT_SECONDS,
    access_log_file: str | None = None,
) -> str:
    """The nginx container's process 1: nginx in the foreground, plus a watcher that
    reloads it when `live` points at a new release and acknowledges the release in
    `state`/loaded once no old worker takes connections, and rotates `access_log_file`.
    SIGQUIT (the image's stop signal) and SIGTERM are passed on, so `docker stop` still
    drains connections."""
    conf = f"{root}/live/nginx.conf"
    drain_tries = drain_seconds * 10
    return f"""seen="$(readlink {root}/live)"
{nginx} -c {conf} -g 'daemon off;' &
pid=$!
trap 'kill -QUIT "$pid" 2>/dev/null' QUIT
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
accepting() {{  # the master's workers that take new connections
    for p in /proc/[0-9]*; do
        read -r _ _ _ ppid _ 2>/dev/null <"$p/stat" || continue
        [ "$ppid" = "$pid" ] || continue
        title="$(tr -d '\\000' 2>/dev/null <"$p/cmdline")"
        [ "$title" = "nginx: worker process" ] && echo "${{p#/proc/}}"
    done
}}
moved_off() {{  # workers take connections, and none of them is in $1
    now_workers=" $(accepting | tr '\\n' ' ')"
    [ "$now_workers" != " " ] || return 1
    for w in $1; do
        case "$now_workers" in *" $w "*) return 1 ;; esac
    done
}}
ack() {{
    printf '%s\\n' "$1" 2>/dev/null >"{state}/.loaded.next" &&
        mv -f "{state}/.loaded.next" "{state}/loaded"
}}
acked=""
while kill -0 "$pid" 2>/dev/null; do
    sleep {poll_seconds}
    touch "{state}/alive" 2>/dev/null
    if [ -z "$acked" ] && [ -n "$(accepting)" ]; then
        ack "$seen" && acked=1
    fi
{_rotate(access_log_file, nginx, conf)}    now="$(readlink {root}/live)" || continue
    [ "$now" = "$seen" ] && continue
    old="$(accepting)"
    if {nginx} -t -q -c {conf} && {nginx} -s reload -c {conf}; then
        tries=0
        until moved_off "$old" || [ "$tries" -ge {drain_tries} ]; do
            tries=$((tries + 1))
            sleep 0.1
        done
        if moved_off "$old"; then
            ack "$now"
            echo "edge: reloaded with $now" >&2
        else
            ack "failed $now"
            echo "edge: $now: old workers still take connections" >&2
        fi
    else
        ack "failed $now"
        echo "edge: $now not loaded; still serving $seen" >&2
    fi
    seen="$now"
done
wait "$pid"
"""
