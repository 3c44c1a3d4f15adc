#!/usr/bin/env bash
# Makes a throw-away local PostgreSQL 15 available for the tests and prints its connection string on
# the last line of stdout (all progress goes to stderr):
#
#   Host=127.0.0.1;Port=54329;Username=bulwark;Password=bulwark;Database=bulwark_test
#
# - installs Debian's `postgresql` if the PostgreSQL 15 binaries are missing;
# - initialises a cluster under $REPO/.pg/data (gitignored), owned by the `postgres` system user when
#   run as root (initdb refuses root), or by the calling user otherwise;
# - starts it on 127.0.0.1:$BULWARK_PG_PORT (default 54329) with its unix socket in $REPO/.pg/run;
#   the server log is appended to $REPO/.pg/postgres.log;
# - creates role bulwark/bulwark (LOGIN CREATEDB) and database bulwark_test (owner bulwark).
# Idempotent: a cluster that is already running is reused. Stop it with scripts/stop-postgres.sh.
#
# Environment: BULWARK_PG_PORT (default 54329), BULWARK_PG_BIN (default /usr/lib/postgresql/15/bin).
set -euo pipefail

log() { printf 'ensure-postgres: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PORT="${BULWARK_PG_PORT:-54329}"
PG_BIN="${BULWARK_PG_BIN:-/usr/lib/postgresql/15/bin}"
ROLE=bulwark
PASSWORD=bulwark
DB=bulwark_test
CONN="Host=127.0.0.1;Port=${PORT};Username=${ROLE};Password=${PASSWORD};Database=${DB}"

PGROOT="$REPO/.pg"
mkdir -p "$PGROOT"
LOGFILE="$PGROOT/postgres.log"

# One invocation at a time per checkout (parallel test runs in one tree would otherwise race initdb).
exec 9>"$PGROOT/.lock"
flock -w 300 9 || die "timed out waiting for $PGROOT/.lock"

# --- 1. binaries -------------------------------------------------------------------------------------
if [[ ! -x "$PG_BIN/initdb" || ! -x "$PG_BIN/pg_ctl" || ! -x "$PG_BIN/psql" ]]; then
  log "PostgreSQL 15 binaries not found in $PG_BIN: installing Debian's postgresql"
  SUDO=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo: install postgresql-15 yourself"
    SUDO=(sudo -n)
  fi
  export DEBIAN_FRONTEND=noninteractive
  # (The package also creates, and may start, its own 'main' cluster on 5432; ours is separate.)
  "${SUDO[@]}" apt-get update -q >&2
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends postgresql postgresql-contrib </dev/null >&2
  [[ -x "$PG_BIN/initdb" ]] || die "installed postgresql but $PG_BIN/initdb is still missing"
fi

# --- 2. who runs the server, and where its files live -----------------------------------------------
if [[ $(id -u) -eq 0 ]]; then
  PGUSER_OS=postgres
  id "$PGUSER_OS" >/dev/null 2>&1 || die "no 'postgres' system user (the postgresql package creates it)"
  as_pg() { (cd / && runuser -u "$PGUSER_OS" -- "$@") 9>&-; }
else
  PGUSER_OS="$(id -un)"
  as_pg() { (cd / && "$@") 9>&-; }
fi

# The data directory must be owned by (and reachable for) the server's user. $REPO/.pg works unless
# some ancestor of the checkout is closed to the postgres user (a clone under /root, say); then the
# cluster lives in /tmp and $REPO/.pg/data is a symlink to it. The log is always $REPO/.pg/postgres.log
# (opened by this shell, so the server needn't be able to reach it).
BASE="$PGROOT"
if [[ $(id -u) -eq 0 ]]; then
  chown "$PGUSER_OS": "$PGROOT"
  if ! as_pg test -w "$PGROOT" -a -x "$PGROOT"; then
    BASE="/tmp/bulwark-pg-$(id -u)-$(printf '%s' "$REPO" | md5sum | cut -c1-10)"
    log "$PGROOT is not reachable for user $PGUSER_OS; keeping the cluster in $BASE"
    mkdir -p "$BASE"
    chown "$PGUSER_OS": "$BASE"
    chmod 0700 "$BASE"
    if [[ ! -L "$PGROOT/data" ]]; then rm -rf "$PGROOT/data"; ln -s "$BASE/data" "$PGROOT/data"; fi
  fi
fi
DATA="$BASE/data"
SOCKDIR="$BASE/run"
# A unix socket path must fit in 107 bytes.
if (( ${#SOCKDIR} + 16 > 100 )); then
  SOCKDIR="/tmp/bulwark-pg-sock-$(printf '%s' "$REPO" | md5sum | cut -c1-10)"
fi
as_pg mkdir -p "$SOCKDIR" 2>/dev/null || { mkdir -p "$SOCKDIR"; chown "$PGUSER_OS": "$SOCKDIR"; }

PSQL_ADMIN=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT" -U "$PGUSER_OS" -d postgres)

# --- 3. is ours already up? is the port free? -------------------------------------------------------
running=0
if [[ -f "$DATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; then
  # Ours is up; make sure it is the one answering on $PORT (the port may have been changed).
  if "$PG_BIN/pg_isready" -q -h "$SOCKDIR" -p "$PORT" -t 5; then
    running=1
    log "reusing the running cluster in $DATA"
  else
    log "cluster in $DATA runs with other settings: restarting it"
    as_pg "$PG_BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >&2
  fi
fi
if (( ! running )) && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2; then
  # Something else (another checkout's cluster?) holds the port. Reuse it if it serves our database.
  if PGPASSWORD="$PASSWORD" PGCONNECT_TIMEOUT=5 "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" \
       -U "$ROLE" -d "$DB" -c 'select 1' >/dev/null 2>&1; then
    log "WARNING: port $PORT is served by a cluster other than $DATA (another checkout's?);"
    log "         it has $ROLE/$DB, so reusing it. Set BULWARK_PG_PORT for a cluster of this checkout's own."
    echo "$CONN"
    exit 0
  fi
  die "port $PORT is taken by another server; set BULWARK_PG_PORT to a free port"
fi

# --- 4. initdb and start ------------------------------------------------------------------------------
started=0
if (( ! running )); then
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initialising a new cluster in $DATA"
    rm -rf "$DATA"
    as_pg "$PG_BIN/initdb" -D "$DATA" -U "$PGUSER_OS" --encoding=UTF8 --locale=C \
      --auth-local=peer --auth-host=scram-sha-256 --no-instructions --no-sync >>"$LOGFILE" 2>&1 \
      || { tail -n 30 "$LOGFILE" >&2; die "initdb failed (log: $LOGFILE)"; }
    echo "include_if_exists = 'bulwark.conf'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
  fi
  # (Re)written at every start so a changed port or socket dir takes effect.
  # Durability is off: this is a throw-away test cluster, and it makes the tests much faster.
  as_pg tee "$DATA/bulwark.conf" >/dev/null <<EOF
# written by scripts/ensure-postgres.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCKDIR'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_line_prefix = '%m [%p] '
EOF
  log "starting PostgreSQL on 127.0.0.1:$PORT (log: $LOGFILE)"
  rm -f "$SOCKDIR/.s.PGSQL.$PORT" "$SOCKDIR/.s.PGSQL.$PORT.lock" 2>/dev/null || true
  # No -l: the server writes to pg_ctl's stdout, i.e. the log file this shell opened. Its stdin is
  # /dev/null, so nothing holds a pipe of the caller's (a `$(...)` capture returns at once).
  printf '\n==== %s start on port %s ====\n' "$(date -u +%FT%TZ)" "$PORT" >>"$LOGFILE"
  as_pg "$PG_BIN/pg_ctl" start -D "$DATA" -w -t 120 </dev/null >>"$LOGFILE" 2>&1 \
    || { tail -n 30 "$LOGFILE" >&2; die "pg_ctl start failed (log: $LOGFILE)"; }
  started=1
fi

# --- 5. role and database ----------------------------------------------------------------------------
as_pg "${PSQL_ADMIN[@]}" <<SQL >&2
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  ELSE
    ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END
\$\$;
SELECT 'CREATE DATABASE $DB OWNER $ROLE'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB')\gexec
SQL

# The tests create one database per test server (bulwark_t_<guid>). Right after a start nobody can be
# using those left by earlier runs, so drop them then (never while reusing a running cluster).
if (( started )); then
  as_pg "${PSQL_ADMIN[@]}" <<'SQL' >&2
SELECT format('DROP DATABASE %I', datname) FROM pg_database WHERE datname LIKE 'bulwark\_t\_%'\gexec
SQL
fi

# Prove the string we print works, over TCP with the password.
PGPASSWORD="$PASSWORD" PGCONNECT_TIMEOUT=10 "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" \
  -d "$DB" -c 'select 1' >/dev/null || die "cannot connect as $ROLE to $DB over TCP"

log "ready"
echo "$CONN"
