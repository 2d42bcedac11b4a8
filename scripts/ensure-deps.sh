#!/usr/bin/env bash
# Installs what the test bed and the tool need on a fresh Debian machine (as
# root): Debian packages for building, booting (systemd-nspawn) and reaching
# test hosts, and the npm dependencies (npm ci also builds dist/). Does nothing
# that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "the test bed needs root: test hosts use namespaces, chroot and mounts" >&2
	exit 1
fi

# command -> Debian package that provides it
declare -A providers=(
	[mmdebstrap]=mmdebstrap [zstd]=zstd [ssh]=openssh-client [ssh-keygen]=openssh-client
	[unshare]=util-linux [ss]=iproute2 [openssl]=openssl [chroot]=coreutils
	[systemd-nspawn]=systemd-container
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

# By content, not modification time: a fresh checkout (or a git worktree sharing
# node_modules) has a newer package-lock.json without needing anything new.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -e node_modules/.package-lock.json ] || [ "$(cat node_modules/.jitsi-jwt-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
	npm ci --no-audit --no-fund --loglevel=error
	echo "$lock_hash" > node_modules/.jitsi-jwt-lock-hash
fi
npm run --silent build
