#!/usr/bin/env bash
# Stops the test cluster started by scripts/ensure-postgres.sh. With --purge, also deletes its data
# (the next ensure-postgres.sh then starts from a fresh initdb). Safe to run when nothing is running.
set -euo pipefail

log() { printf 'stop-postgres: %s\n' "$*" >&2; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PG_BIN="${BULWARK_PG_BIN:-/usr/lib/postgresql/15/bin}"
PGROOT="$REPO/.pg"
PURGE=0
[[ "${1:-}" == "--purge" ]] && PURGE=1

if [[ ! -e "$PGROOT/data" ]]; then
  log "no cluster in $PGROOT/data"
  exit 0
fi
DATA="$(readlink -f "$PGROOT/data")"

if [[ $(id -u) -eq 0 ]]; then
  as_pg() { (cd / && runuser -u postgres -- "$@") 9>&-; }
else
  as_pg() { (cd / && "$@") 9>&-; }
fi

exec 9>"$PGROOT/.lock"
flock -w 300 9 || { log "timed out waiting for $PGROOT/.lock"; exit 1; }

if [[ -x "$PG_BIN/pg_ctl" ]] && as_pg "$PG_BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; then
  log "stopping the cluster in $DATA"
  as_pg "$PG_BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >&2
else
  log "cluster in $DATA is not running"
fi

if (( PURGE )); then
  log "deleting $DATA"
  rm -rf "$DATA"
  [[ -L "$PGROOT/data" ]] && rm -f "$PGROOT/data"
fi
