#!/usr/bin/env bash
# npm test: installs what the tests need on a fresh Debian machine (root), runs
# the type check, the unit and the end-to-end tests, and tears every test host
# down afterwards, also when the tests fail or the run is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh

export JITSI_JWT_TESTBED_STATE="/var/lib/jitsi-jwt-testbed-runs/$$"
# Scratch files of the tests (homes, keys, inventories) go where cleanup finds them.
export TMPDIR="$JITSI_JWT_TESTBED_STATE/tmp"
mkdir -p "$TMPDIR"
cleanup() {
	npx tsx testbed/cli.ts down --all >/dev/null 2>&1 || true
	rm -rf "$JITSI_JWT_TESTBED_STATE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

report=$(mktemp)
status=0
npx tsc -p tsconfig.json --noEmit
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(`Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
rm -f "$report"
exit $status
