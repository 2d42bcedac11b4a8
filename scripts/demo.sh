#!/usr/bin/env bash
# npm run demo: installs what it needs on a fresh Debian machine (root), boots a
# stock Jitsi-shaped test host and runs jitsi-jwt's main job against it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec npx tsx scripts/demo.ts "$@"
