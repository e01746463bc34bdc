# shellcheck shell=bash
# The start-up the .ci scripts share: a work directory, a free port, a fresh
# database (SQLite in the server's directory, or a database of its own on a
# PostgreSQL server), servers started in the background, a wait until one
# answers, and at exit every server still running stopped, every database
# dropped and the work directory removed.
#
#   source "$root/.ci/lib/server.sh"
#   mg_init                                   # $mg_work, and the EXIT trap
#   port=$(mg_free_port)
#   mg_fresh_database "$backend" NAME         # sqlite, or a PostgreSQL admin URL
#   mg_start_server "$binary" DIR LOG [VAR=VALUE]...   # `BINARY serve`; its pid in $mg_pid
#   mg_wait_for "$url/healthz" LOG TRIES MESSAGE [LINES]
#   mg_stop "$mg_pid"; mg_drop_database NAME  # before the exit, when a script needs to
#
# Call these directly, never in $(…): a server started in a subshell is not
# this shell's to wait for, and what they record would be lost.

mg_work=""
mg_pid=""
mg_database=""
mg_pids=()      # servers to stop at exit; a negative pid stands for its process group
mg_databases=() # "ADMIN_URL NAME" of each database to drop at exit

# mg_init: makes the work directory $mg_work and sets the EXIT trap.
mg_init() {
    mg_work=$(mktemp -d)
    trap mg_cleanup EXIT
}

# mg_cleanup: stops the servers (in the order they started), drops the
# databases and removes the work directory. The EXIT trap.
mg_cleanup() {
    local pid entry
    for pid in "${mg_pids[@]}"; do
        kill -- "$pid" 2>/dev/null || true
        wait "${pid#-}" 2>/dev/null || true
    done
    mg_pids=()
    for entry in "${mg_databases[@]}"; do
        psql "${entry% *}" -qc "DROP DATABASE IF EXISTS ${entry##* } WITH (FORCE)" >/dev/null || true
    done
    mg_databases=()
    if [ -n "$mg_work" ]; then rm -rf "$mg_work"; fi
}

# mg_free_port: prints a TCP port free on 127.0.0.1.
mg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# mg_venv DIR: a Python venv in DIR, made unless it exists (the scripts
# install their pinned tools into it).
mg_venv() {
    if [ ! -x "$1/bin/python" ]; then
        python3 -m venv "$1"
    fi
}

# mg_fresh_database BACKEND NAME: with `sqlite`, unsets MODELGATE__DATABASE__URL
# (the server makes its SQLite file in its data directory); with a PostgreSQL
# admin URL, creates the database NAME on that server, dropped at exit, and
# exports MODELGATE__DATABASE__URL naming it. Sets mg_database to NAME, or ""
# for SQLite.
mg_fresh_database() {
    local backend=$1 name=$2
    if [ "$backend" = sqlite ]; then
        unset MODELGATE__DATABASE__URL
        mg_database=""
        return 0
    fi
    psql "$backend" -qc "CREATE DATABASE $name" >/dev/null
    mg_databases+=("$backend $name")
    mg_database=$name
    export MODELGATE__DATABASE__URL="${backend%/*}/$name"
}

# mg_drop_database NAME: drops a database mg_fresh_database made, now.
mg_drop_database() {
    local name=$1 entry
    local kept=()
    for entry in "${mg_databases[@]}"; do
        if [ "${entry##* }" = "$name" ]; then
            psql "${entry% *}" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null || true
        else
            kept+=("$entry")
        fi
    done
    mg_databases=("${kept[@]}")
    if [ "$mg_database" = "$name" ]; then mg_database=""; fi
}

# mg_spawn [--group] DIR LOG COMMAND...: runs COMMAND in DIR in the background,
# its output in LOG; its pid in mg_pid, stopped at exit. With --group it runs
# under setsid, in a process group of its own, and the whole group is stopped
# (for a server that forks workers).
mg_spawn() {
    local group=""
    if [ "$1" = --group ]; then
        group=yes
        shift
    fi
    local dir=$1 log=$2
    shift 2
    if [ -n "$group" ]; then
        (cd "$dir" && exec setsid "$@" >"$log" 2>&1) &
        mg_pid=$!
        mg_pids+=("-$mg_pid")
    else
        (cd "$dir" && exec "$@" >"$log" 2>&1) &
        mg_pid=$!
        mg_pids+=("$mg_pid")
    fi
}

# mg_start_server BINARY DIR LOG [VAR=VALUE]...: `BINARY serve` in DIR with
# these variables set for it (on top of the environment), its output in LOG;
# its pid in mg_pid. The server is not ready yet: mg_wait_for.
mg_start_server() {
    local binary=$1 dir=$2 log=$3
    shift 3
    mg_spawn "$dir" "$log" env "$@" "$binary" serve
}

# mg_wait_for URL LOG TRIES MESSAGE [LINES]: waits until URL answers 2xx,
# trying every 0.1 s, TRIES times; then prints MESSAGE and LOG (its last
# LINES lines, or all of it) to standard error and exits 1.
mg_wait_for() {
    local url=$1 log=$2 tries=$3 message=$4 lines=${5:-}
    local _
    for _ in $(seq 1 "$tries"); do
        if curl -s -o /dev/null --fail "$url"; then return 0; fi
        sleep 0.1
    done
    echo "$message" >&2
    if [ -n "$lines" ]; then tail -n "$lines" "$log" >&2; else cat "$log" >&2; fi
    exit 1
}

# mg_stop PID: stops a server mg_spawn started (PID as mg_pid gave it) and
# waits for it to exit; it is no longer stopped at exit.
mg_stop() {
    local pid=$1 entry
    local kept=()
    for entry in "${mg_pids[@]}"; do
        if [ "$entry" = "$pid" ] || [ "$entry" = "-$pid" ]; then
            pid=$entry
        else
            kept+=("$entry")
        fi
    done
    mg_pids=("${kept[@]}")
    kill -- "$pid" 2>/dev/null || true
    wait "${pid#-}" 2>/dev/null || true
}
