#!/usr/bin/env bash
# scripts/check-runtime-upstream.sh KEYRING: run by the publishing pipeline before a package ships.
# Ties the runtime pinned in scripts/node-runtime.json (taken from a republish on npm) to the
# Node.js project's own release: verifies SHASUMS256.txt of that version with gpgv against
# KEYRING (the Node.js release keys, https://github.com/nodejs/release-keys, gpg/pubring.kbx,
# kept by the pipeline, not fetched next to what it verifies), downloads each shipped
# architecture's official node-v<version>-linux-<arch>.tar.xz, checks it against the signed
# list, and requires its bin/node to have exactly the pinned nodeSha256, the SHA-256 the build
# enforces on the shipped binary (scripts/package-lib.mjs). Any difference fails: do not ship.
#
# Needs curl, gpgv, xz, node. NODE_DIST_URL replaces https://nodejs.org/dist (a mirror, or a
# file:// folder with the same layout).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PINS=$ROOT/scripts/node-runtime.json
KEYRING=${1:?usage: scripts/check-runtime-upstream.sh KEYRING (the Node.js release keys, a .kbx or .gpg keyring)}
KEYRING=$(realpath "$KEYRING")   # gpgv takes a bare name as one under ~/.gnupg
DIST=${NODE_DIST_URL:-https://nodejs.org/dist}

fail() { echo "check-runtime-upstream: $*" >&2; exit 1; }
pin() { node -e 'const p = require(process.argv[1]); console.log(eval(process.argv[2]))' "$PINS" "$1"; }

version=$(pin p.version)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base=$DIST/v$version

curl -fsSL -o "$work/SHASUMS256.txt" "$base/SHASUMS256.txt" || fail "cannot download $base/SHASUMS256.txt"
curl -fsSL -o "$work/SHASUMS256.txt.sig" "$base/SHASUMS256.txt.sig" || fail "cannot download $base/SHASUMS256.txt.sig"
gpgv --keyring "$KEYRING" "$work/SHASUMS256.txt.sig" "$work/SHASUMS256.txt" 2>"$work/gpgv.log" \
  || { cat "$work/gpgv.log" >&2; fail "$base/SHASUMS256.txt is not signed by a key in $KEYRING"; }
echo "SHASUMS256.txt of Node.js $version: $(grep -m1 'Good signature' "$work/gpgv.log" || echo 'good signature')"

for arch in $(pin 'Object.keys(p.runtimes).join(" ")'); do
  tarball=node-v$version-linux-$arch.tar.xz
  listed=$(awk -v f="$tarball" '$2 == f { print $1 }' "$work/SHASUMS256.txt")
  [ -n "$listed" ] || fail "$tarball is not listed in the signed SHASUMS256.txt"
  curl -fsSL -o "$work/$tarball" "$base/$tarball" || fail "cannot download $base/$tarball"
  got=$(sha256sum <"$work/$tarball" | cut -c1-64)
  [ "$got" = "$listed" ] || fail "$tarball: SHA-256 $got, the signed SHASUMS256.txt says $listed"
  official=$(tar -xJOf "$work/$tarball" "node-v$version-linux-$arch/bin/node" | sha256sum | cut -c1-64)
  pinned=$(pin "p.runtimes['$arch'].nodeSha256")
  [ "$official" = "$pinned" ] \
    || fail "linux-$arch: the official bin/node has SHA-256 $official, scripts/node-runtime.json pins $pinned: the npm republish is not the Node.js release; do not ship"
  echo "linux-$arch: the pinned node $pinned is bin/node of the signed $tarball"
done
