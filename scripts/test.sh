#!/usr/bin/env bash
# npm test: installs what the tests need on a fresh Debian machine (root), runs
# the unit and end-to-end tests, and tears every test host down afterwards,
# also when the tests fail or the run is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "npm test needs root: the test hosts use namespaces, chroot and mounts" >&2
	exit 1
fi

# command -> Debian package that provides it
declare -A providers=(
	[mmdebstrap]=mmdebstrap [zstd]=zstd [ssh]=openssh-client [ssh-keygen]=openssh-client
	[unshare]=util-linux [ss]=iproute2 [openssl]=openssl [chroot]=coreutils
)
missing=()
for command in "${!providers[@]}"; do
	command -v "$command" >/dev/null 2>&1 || missing+=("${providers[$command]}")
done
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi

export JITSI_JWT_TESTBED_STATE="/var/lib/jitsi-jwt-testbed/test-run-$$"
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
