#!/usr/bin/env bash
# Throwaway PostgreSQL server for tests and CI.
#
# Usage:
#   scripts/pg-test-server.sh [start] [--dir DIR] [--port PORT]
#       Create a fresh cluster (trust auth, superuser "postgres", fsync off) and start it on
#       127.0.0.1. Prints exactly one line on stdout, the URL:
#           postgresql://postgres@127.0.0.1:PORT/postgres
#       DIR is the server's base directory (must be missing, empty, or an earlier DIR of this
#       script). Without --dir a new one is made with mktemp and reported on stderr so it can
#       be stopped later. Layout: DIR/data (cluster), DIR/log (server log), DIR/.s.PGSQL.PORT
#       (socket), DIR/*.out (initdb/pg_ctl output). Starting a DIR whose server is already
#       running only prints its URL again.
#       PORT defaults to 54329 if that is free, else a free port picked by the kernel.
#       Given --port (or PG_TEST_PORT), only that port is tried.
#   scripts/pg-test-server.sh stop DIR
#       Stop the server and delete DIR. No-op if DIR does not exist. Refuses to delete a
#       directory this script did not create.
#   scripts/pg-test-server.sh url DIR     Print the URL of the running server in DIR.
#   scripts/pg-test-server.sh bindir      Print the PostgreSQL bin dir (exit 1 if none found).
#
# Binaries: $PG_BINDIR, else the newest /usr/lib/postgresql/*/bin (Debian), else initdb on
# PATH / pg_config --bindir. As root, the server runs as the OS user "postgres" (created if
# missing), since PostgreSQL refuses to run as root; otherwise as the current user.
set -euo pipefail

DEFAULT_PORT=54329
MARKER=.pg-test-server
PG_USER=postgres

die() {
    echo "pg-test-server: $*" >&2
    exit 1
}

find_bindir() {
    local candidate
    if [[ -n "${PG_BINDIR:-}" ]]; then
        [[ -x "$PG_BINDIR/initdb" && -x "$PG_BINDIR/pg_ctl" ]] || return 1
        echo "$PG_BINDIR"
        return 0
    fi
    candidate=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$candidate" && -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]]; then
        echo "$candidate"
        return 0
    fi
    if candidate=$(command -v initdb 2>/dev/null) && [[ -x "$(dirname "$candidate")/pg_ctl" ]]; then
        dirname "$candidate"
        return 0
    fi
    if command -v pg_config >/dev/null 2>&1; then
        candidate=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n "$candidate" && -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]]; then
            echo "$candidate"
            return 0
        fi
    fi
    return 1
}

# Run a command as the server's OS user, from a directory that user can enter.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$BASE" && LC_ALL=C runuser -u "$PG_USER" -- "$@")
    else
        (cd "$BASE" && LC_ALL=C "$@")
    fi
}

ensure_pg_user() {
    [[ $EUID -eq 0 ]] || return 0
    if ! id -u "$PG_USER" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$PG_USER" || die "could not create OS user $PG_USER"
    fi
}

port_is_free() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as postgres does
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

kernel_free_port() {
    python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

url_for() {
    echo "postgresql://postgres@127.0.0.1:$1/postgres"
}

is_running() {
    [[ -f "$BASE/data/postmaster.pid" ]] && as_pg "$BINDIR/pg_ctl" -D "$BASE/data" status >/dev/null 2>&1
}

show_failure() {
    local f
    for f in "$BASE/initdb.out" "$BASE/pg_ctl.out" "$BASE/log"; do
        if [[ -s "$f" ]]; then
            echo "---- $f (last 30 lines) ----" >&2
            tail -n 30 "$f" >&2
        fi
    done
}

cmd_start() {
    local dir="" port="${PG_TEST_PORT:-}" attempt candidate
    CREATED=0
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
            --port) port="${2:?--port needs a value}"; shift 2 ;;
            *) die "unknown argument: $1" ;;
        esac
    done

    BINDIR=$(find_bindir) || die "no PostgreSQL server binaries found (install the Debian package 'postgresql' or set PG_BINDIR)"
    ensure_pg_user

    if [[ -z "$dir" ]]; then
        local parent="${TMPDIR:-/tmp}"
        # The server user must be able to reach the directory (e.g. not under /root).
        if [[ $EUID -eq 0 ]] && ! runuser -u "$PG_USER" -- test -x "$parent" 2>/dev/null; then
            parent=/tmp
        fi
        dir=$(mktemp -d "$parent/handoff-pg.XXXXXX")
        CREATED=1
    fi
    mkdir -p "$dir"
    BASE=$(cd "$dir" && pwd -P)

    if [[ -f "$BASE/$MARKER" ]]; then
        if [[ -f "$BASE/port" ]] && is_running; then
            url_for "$(cat "$BASE/port")"
            return 0
        fi
        # Stale directory from an earlier run: start over in it.
        rm -rf "${BASE:?}/data" "$BASE/log" "$BASE/port" "$BASE"/*.out
    elif [[ -n "$(ls -A "$BASE")" ]]; then
        die "$BASE is not empty and was not created by this script"
    fi
    touch "$BASE/$MARKER"

    # On failure, remove what we made so nothing leaks.
    trap 'rc=$?; if [[ $rc -ne 0 ]]; then show_failure; as_pg "$BINDIR/pg_ctl" -D "$BASE/data" stop -m immediate >/dev/null 2>&1 || true; if [[ $CREATED -eq 1 ]]; then rm -rf "$BASE"; else rm -rf "${BASE:?}/data"; fi; fi' EXIT

    if [[ $EUID -eq 0 ]]; then
        chown -R "$PG_USER": "$BASE"
        runuser -u "$PG_USER" -- test -w "$BASE" 2>/dev/null \
            || die "OS user $PG_USER cannot write to $BASE (is a parent directory private?)"
    fi
    chmod 700 "$BASE"

    as_pg "$BINDIR/initdb" -D "$BASE/data" --auth=trust -U postgres --encoding=UTF8 --no-locale \
        --no-sync >"$BASE/initdb.out" 2>&1 || die "initdb failed"

    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        if [[ -n "$port" ]]; then
            candidate=$port
        elif [[ $attempt -eq 1 ]] && port_is_free "$DEFAULT_PORT"; then
            candidate=$DEFAULT_PORT
        else
            candidate=$(kernel_free_port)
        fi
        rm -f "$BASE/log"
        if as_pg "$BINDIR/pg_ctl" -D "$BASE/data" -l "$BASE/log" -w -t 60 \
            -o "-p $candidate -k $BASE -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >"$BASE/pg_ctl.out" 2>&1; then
            echo "$candidate" >"$BASE/port"
            [[ $EUID -eq 0 ]] && chown "$PG_USER": "$BASE/port"
            trap - EXIT
            if [[ $CREATED -eq 1 ]]; then
                echo "pg-test-server: data dir $BASE (stop with: $0 stop $BASE)" >&2
            fi
            url_for "$candidate"
            return 0
        fi
        # Retry on another port only if this one was taken (e.g. a concurrent run won the race).
        if [[ -z "$port" ]] && grep -qiE 'could not bind|address already in use|could not create any TCP/IP sockets|lock file .* already exists' "$BASE/log" "$BASE/pg_ctl.out"; then
            as_pg "$BINDIR/pg_ctl" -D "$BASE/data" stop -m immediate >/dev/null 2>&1 || true
            continue
        fi
        die "could not start the server on port $candidate"
    done
    die "could not find a free port after 10 attempts"
}

cmd_stop() {
    local dir="${1:?usage: $0 stop DIR}" pid
    [[ -e "$dir" ]] || return 0
    BASE=$(cd "$dir" && pwd -P)
    if [[ ! -f "$BASE/$MARKER" ]]; then
        # Allow cleaning up an empty directory handed to "start --dir" that never got used.
        [[ -z "$(ls -A "$BASE")" ]] || die "refusing to delete $BASE: not created by this script"
        rmdir "$BASE"
        return 0
    fi
    if [[ -f "$BASE/data/postmaster.pid" ]]; then
        pid=$(head -n 1 "$BASE/data/postmaster.pid" 2>/dev/null || true)
        if BINDIR=$(find_bindir); then
            as_pg "$BINDIR/pg_ctl" -D "$BASE/data" stop -m fast -w -t 30 >>"$BASE/pg_ctl.out" 2>&1 \
                || as_pg "$BINDIR/pg_ctl" -D "$BASE/data" stop -m immediate -w -t 30 >>"$BASE/pg_ctl.out" 2>&1 \
                || true
        fi
        if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
            && grep -q postgres "/proc/$pid/comm" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -rf "${BASE:?}"
}

cmd_url() {
    local dir="${1:?usage: $0 url DIR}"
    BASE=$(cd "$dir" && pwd -P)
    BINDIR=$(find_bindir) || die "no PostgreSQL server binaries found"
    [[ -f "$BASE/$MARKER" && -f "$BASE/port" ]] && is_running || die "no server running in $BASE"
    url_for "$(cat "$BASE/port")"
}

case "${1:-start}" in
    start) [[ $# -gt 0 ]] && shift; cmd_start "$@" ;;
    -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
    --*) cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    url) shift; cmd_url "$@" ;;
    bindir) find_bindir || die "no PostgreSQL server binaries found" ;;
    *) die "unknown command: $1 (try --help)" ;;
esac
