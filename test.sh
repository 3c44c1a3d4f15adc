#!/usr/bin/env bash
# Runs the whole test suite: starts the throw-away PostgreSQL, installs the real Particle clients,
# builds and tests Bulwark.slnx in Release, then prints "N passed, N failed, N skipped" computed from
# the TRX results. Exits non-zero if a test failed, the build or a test host failed, or no test ran.
#
#   ./test.sh                              # everything
#   ./test.sh --filter "FullyQualifiedName~Firmware"   # extra arguments go to `dotnet test`
#
# Exports to the tests: BULWARK_TEST_POSTGRES (Npgsql connection string), BULWARK_NODE22,
# BULWARK_PARTICLE_CLI, BULWARK_CONFORMANCE_DIR (see tests/conformance/README.md).
# Knobs: BULWARK_PG_PORT (default 54329), BULWARK_TEST_TIMEOUT (whole `dotnet test`, default 75m),
# BULWARK_KEEP_PG=1 (under CI=true the cluster is otherwise stopped at the end).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
REPO="$(pwd -P)"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export PARTICLE_DISABLE_UPDATE=true

step() { printf '\n==> %s\n' "$*"; }
t0=$SECONDS

cleanup() {
  if [[ "${CI:-}" == "true" ]]; then
    # Leave nothing running that could hold CI's output pipe open.
    dotnet build-server shutdown >/dev/null 2>&1 || true
    [[ "${BULWARK_KEEP_PG:-}" == "1" ]] || scripts/stop-postgres.sh >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

step "PostgreSQL (scripts/ensure-postgres.sh)"
pg_out="$(scripts/ensure-postgres.sh </dev/null)"
BULWARK_TEST_POSTGRES="$(printf '%s\n' "$pg_out" | tail -n 1)"
export BULWARK_TEST_POSTGRES
echo "BULWARK_TEST_POSTGRES=$BULWARK_TEST_POSTGRES"

step "Particle clients (scripts/ensure-node-tools.sh)"
tools_out="$(scripts/ensure-node-tools.sh </dev/null)"
while IFS='=' read -r key value; do
  case "$key" in
    BULWARK_NODE22|BULWARK_PARTICLE_CLI|BULWARK_CONFORMANCE_DIR) export "$key=$value"; echo "$key=$value" ;;
  esac
done <<<"$tools_out"
for v in BULWARK_NODE22 BULWARK_PARTICLE_CLI BULWARK_CONFORMANCE_DIR; do
  [[ -n "${!v:-}" ]] || { echo "test.sh: ensure-node-tools.sh did not report $v" >&2; exit 1; }
done

RESULTS="$REPO/artifacts/test-results"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"

step "dotnet test Bulwark.slnx -c Release  (setup took $((SECONDS - t0))s)"
set +e
timeout --kill-after=60s "${BULWARK_TEST_TIMEOUT:-75m}" \
  dotnet test Bulwark.slnx -c Release \
    --logger "console;verbosity=normal" \
    --logger "trx" \
    --results-directory "$RESULTS" \
    --blame-hang-timeout 15m --blame-hang-dump-type none \
    "$@" </dev/null
rc=$?
set -e
if (( rc == 124 || rc == 137 )); then
  echo "test.sh: dotnet test exceeded ${BULWARK_TEST_TIMEOUT:-75m} and was killed" >&2
fi

# --- count the results from the TRX files ------------------------------------------------------------
# One UnitTestResult per test case; outcome Passed / Failed / NotExecuted (skipped) / anything else
# (Error, Timeout, Aborted, ...) counts as failed.
count_trx() {
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import xml.etree.ElementTree' >/dev/null 2>&1; then
    python3 - "$RESULTS" <<'PY'
import pathlib, sys, xml.etree.ElementTree as ET
passed = failed = skipped = 0
for trx in sorted(pathlib.Path(sys.argv[1]).rglob("*.trx")):
    try:
        root = ET.parse(trx).getroot()
    except ET.ParseError as e:
        print(f"test.sh: cannot parse {trx}: {e}", file=sys.stderr)
        failed += 1
        continue
    for el in root.iter():
        if el.tag.rsplit("}", 1)[-1] != "UnitTestResult":
            continue
        outcome = el.get("outcome", "")
        if outcome == "Passed":
            passed += 1
        elif outcome in ("NotExecuted", "Inconclusive", "Pending", "NotRunnable"):
            skipped += 1
        else:
            failed += 1
print(passed, failed, skipped)
PY
  else
    local p=0 f=0 s=0 o
    while read -r o; do
      case "$o" in
        Passed) p=$((p + 1)) ;;
        NotExecuted|Inconclusive|Pending|NotRunnable) s=$((s + 1)) ;;
        *) f=$((f + 1)) ;;
      esac
    done < <(find "$RESULTS" -name '*.trx' -print0 | xargs -0 -r cat \
               | grep -o '<UnitTestResult [^>]*' | sed -n 's/.* outcome="\([A-Za-z]*\)".*/\1/p')
    echo "$p $f $s"
  fi
}
counts="$(count_trx)" || counts=""
read -r passed failed skipped <<<"$counts" || true
passed="${passed:-0}" failed="${failed:-0}" skipped="${skipped:-0}"
trx_count="$(find "$RESULTS" -name '*.trx' | wc -l)"

echo
echo "test.sh: dotnet test exit code $rc; $trx_count TRX file(s) in ${RESULTS#"$REPO"/}; total $((SECONDS - t0))s"
status=0
if (( rc != 0 )); then status=1; fi
if (( failed > 0 )); then status=1; fi
if (( passed + failed == 0 )); then
  echo "test.sh: no test ran" >&2
  status=1
fi
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
