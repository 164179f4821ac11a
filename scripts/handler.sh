#!/bin/sh
# Entry point named by HandlerManifest.json: `scripts/handler.sh install|enable|...`.
# Azure images have no Node.js, so this starts the runtime shipped in the package. Plain POSIX
# sh: the agent runs the command through /bin/sh, which is dash on Debian and Ubuntu.
set -u

# The agent runs us as <ext>/scripts/handler.sh with cwd = <ext>, but resolve from $0 so a
# person or a test can run it from anywhere.
case $0 in
  */*) self_dir=${0%/*} ;;
  *) self_dir=. ;;
esac
ext_dir=$(CDPATH='' cd -- "$self_dir/.." && pwd -P) || {
  echo "handler.sh: cannot resolve the extension directory from $0" >&2
  exit 3
}

# The no-op re-enable, which every goal state and boot of every VM runs, decided here without
# starting Node (~4 ms instead of ~70): from the token the handler writes when it has just found
# this configuration applied (handler/agent/noop-token.ts). The same sequence number and version,
# the three files the decision reads untouched (inode, size, mtime to the nanosecond), and the
# same monitor process alive: else fall through to Node, which decides and writes a new token.
noop_enable() {
  [ "$#" -eq 1 ] && [ "$1" = enable ] || return 1
  seq=${ConfigSequenceNumber:-}
  ver=${AZURE_GUEST_AGENT_EXTENSION_VERSION:-}
  # The extension directory as the handler finds it: the agent's variable first.
  dir=${AZURE_GUEST_AGENT_EXTENSION_PATH:-$ext_dir}
  case $seq in '' | *[!0-9]*) return 1 ;; esac
  [ -n "$ver" ] && [ -r "$dir/noop-enable" ] || return 1
  read -r t_format t_seq t_ver t_f1 t_f2 t_f3 t_pid t_start t_extra <"$dir/noop-enable" || return 1
  [ "$t_format" = noop1 ] && [ -z "$t_extra" ] && [ "$t_seq" = "$seq" ] && [ "$t_ver" = "$ver" ] || return 1
  now=$(stat --printf='%i:%s:%.9Y ' "$dir/mrseq" "$dir/last-enable.json" "$dir/status/$seq.status" 2>/dev/null) || return 1
  [ "$now" = "$t_f1 $t_f2 $t_f3 " ] || return 1
  case $t_pid in '' | *[!0-9]*) return 1 ;; esac
  [ -r "/proc/$t_pid/stat" ] || return 1
  read -r p_stat 2>/dev/null <"/proc/$t_pid/stat" || return 1
  # shellcheck disable=SC2086  # split the fields after the command name on purpose
  set -- ${p_stat##*") "}
  [ "$1" != Z ] && [ "${20:-}" = "$t_start" ]
}
if noop_enable "$@"; then
  echo "enable: configuration $ConfigSequenceNumber is already applied; nothing to do"
  exit 0
fi

machine=$(uname -m)
case $machine in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) arch=unsupported ;;
esac
node=$ext_dir/runtime/linux-$arch/node
if [ ! -f "$node" ]; then
  # Name what the package does carry: the single-architecture zips make "wrong zip uploaded"
  # the likely cause. One line, as the agent publishes stderr in the handler status.
  shipped=
  for d in "$ext_dir"/runtime/linux-*; do
    [ -f "$d/node" ] && shipped="$shipped ${d##*/}"
  done
  echo "handler.sh: no Node.js runtime for machine architecture '$machine' (supported: x86_64, aarch64; this package has:${shipped:- none})" >&2
  exit 3
fi
# Python's zipfile (the agent's unzip) drops mode bits; the agent adds u+x afterwards, but do
# not depend on it.
if [ ! -x "$node" ]; then
  chmod u+x "$node" || {
    echo "handler.sh: cannot make $node executable" >&2
    exit 3
  }
fi

# The agent passes its own systemd environment (no HOME; PATH may lack sbin, where usermod,
# iptables and friends live). Pin what the handler and the tools it runs rely on.
umask 022
HOME=${HOME:-/root}
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Untranslated, UTF-8-safe messages from the tools whose output the handler parses.
LANG=C.UTF-8
export HOME PATH LANG
unset LC_ALL
# A profile or an admin's environment must not inject flags (--require, --inspect) into a
# process that handles decrypted secrets as root.
unset NODE_OPTIONS
# No core dumps, before anything is decrypted: a crashed handler's core would hold the TLS key,
# the registry password and the agent's tenant key. Every process started from here (the setsid
# worker, the monitor without systemd) inherits it; systemd units get LimitCORE=0 of their own
# (handler/system/detached.ts, handler/monitor/unit.ts). systemd-coredump and apport honour it.
# The soft limit is the one the kernel applies, and Node has no call to raise it again. The hard
# limit is left as it was: the dockerd the direct manager starts gets init's soft limit back
# (handler/system/direct-manager.ts) without a privilege a container may not have, so the
# user's containers keep their core dumps.
ulimit -S -c 0 || {
  echo "handler.sh: cannot turn core dumps off (ulimit -S -c 0)" >&2
  exit 3
}
# Every goal state and boot re-runs enable; V8's on-disk code cache (Node >= 22) saves most of
# the bundle's compile time on those no-op runs. Inside the extension directory: root-owned,
# versioned, removed with the extension.
NODE_COMPILE_CACHE=$ext_dir/.node-compile-cache
export NODE_COMPILE_CACHE

exec "$node" "$ext_dir/dist/handler.cjs" "$@"
