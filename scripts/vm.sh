#!/usr/bin/env bash
# scripts/vm.sh: the e2e test "VM" (Debian 12 container, systemd as PID 1, no Node, no Docker, waagent code with
# its unit masked) for humans and CI. The machinery is test/support/vm/vmctl.sh; the tests use
# test/support/vm/vm.ts. Needs root.
#
#   scripts/vm.sh up               start the dedicated dockerd, build/import the image if needed, boot the VM
#                                  (reused when already running) and copy the waagent harness into it
#   scripts/vm.sh sh [CMD...]      run CMD in the VM (no CMD: interactive bash)
#   scripts/vm.sh cp SRC DEST      copy a host path into the VM (docker cp semantics)
#   scripts/vm.sh restart          "reboot" the VM (docker restart, wait for systemd)
#   scripts/vm.sh rm               remove the VM (keeps dockerd and the image)
#   scripts/vm.sh down             remove all test VMs and stop the dedicated dockerd
#   scripts/vm.sh purge            down + delete its data-root and the image cache (next up builds from scratch)
#   scripts/vm.sh status           dockerd, image, cache, VMs
#   scripts/vm.sh docker ARGS...   docker CLI against the dedicated dockerd
#
# Environment: ADX_VM=name of the VM (default adx-vm); ADX_E2E_HARNESS_DIR=harness source
# (default: shared/tools/waagent-harness beside the repository).
#
# Inside the VM after `up`:
#   /opt/waagent-harness/demo/setup-demo.sh
#   /opt/waagent-harness/run_with_waagent.py /tmp/demo-handler --public-settings /tmp/demo-public1.json \
#       --protected-settings /tmp/demo-protected1.json --expect-message 'protected_sha256={protected_sha256}'
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VMCTL=$ROOT/test/support/vm/vmctl.sh
VM=${ADX_VM:-adx-vm}
HARNESS_SRC=${ADX_E2E_HARNESS_DIR:-$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)/shared/tools/waagent-harness}

d() { "$VMCTL" docker "$@"; }
running() { [ "$(d inspect -f '{{.State.Running}}' "$VM" 2>/dev/null || true)" = true ]; }
need_vm() { running || { echo "VM $VM is not running: scripts/vm.sh up" >&2; exit 1; }; }

up() {
  local t0; t0=$(date +%s.%N)
  ADX_E2E_REUSE=1 "$VMCTL" boot "$VM" >/dev/null
  if [ -d "$HARNESS_SRC" ]; then
    d exec "$VM" rm -rf /opt/waagent-harness /opt/adx-e2e
    d exec "$VM" mkdir -p /opt/adx-e2e
    d cp "$HARNESS_SRC" "$VM:/opt/waagent-harness"
    d cp "$ROOT/test/support/vm/harness_driver.py" "$VM:/opt/adx-e2e/harness_driver.py"
  else
    echo "warning: harness not found at $HARNESS_SRC (set ADX_E2E_HARNESS_DIR)" >&2
  fi
  echo "VM $VM up ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s): systemd $(d exec "$VM" systemctl is-system-running || true)"
  echo "  scripts/vm.sh sh          # shell in the VM"
  echo "  scripts/vm.sh down        # stop everything"
}

cmd=${1:-}; shift || true
case "$cmd" in
  up) up ;;
  sh)
    need_vm
    tty=(-i); [ -t 0 ] && [ -t 1 ] && tty=(-it)
    if [ $# -eq 0 ]; then exec "$VMCTL" docker exec "${tty[@]}" "$VM" bash -l; fi
    exec "$VMCTL" docker exec "${tty[@]}" "$VM" "$@" ;;
  cp) need_vm; d exec "$VM" mkdir -p "$(dirname "$2")"; d cp "$1" "$VM:$2" ;;
  restart)
    need_vm
    t0=$(date +%s.%N)
    d restart -t 60 "$VM" >/dev/null
    st=$("$VMCTL" wait "$VM")
    echo "VM $VM rebooted: systemd $st after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s" ;;
  rm) "$VMCTL" rm "$VM" ;;
  down) "$VMCTL" down ;;
  purge) "$VMCTL" purge ;;
  status) "$VMCTL" status ;;
  docker) exec "$VMCTL" docker "$@" ;;
  *) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
