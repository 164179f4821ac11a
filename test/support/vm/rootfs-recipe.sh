#!/usr/bin/env bash
# Build the root filesystem of the test "VM": a Debian minbase (bullseye, bookworm or trixie) with systemd
# as init, the Azure Linux Agent's Python code (waagent, its unit MASKED before it is installed) and the
# tools the checks use. NO node, NO docker: installing those is what the handler under test does.
#
# Which agent code runs where: bookworm and trixie get their own waagent package (2.7.3 and 2.12).
# bullseye's own waagent (2.2.47) is older than the harness supports, so bullseye gets bookworm's
# waagent 2.7.3 package (Python-only, "Architecture: all"; its dependencies come from bullseye).
#
#   rootfs-recipe.sh TARGET_DIR [MIRROR] [SECURITY_MIRROR] [SUITE]
#
# Run as root on the host. vmctl.sh calls it and caches the result keyed by the sha256 of THIS FILE
# (plus suite/mirror/arch), so any edit here produces a new image. Only the Debian mirror is contacted.
set -euo pipefail

T=${1:?usage: rootfs-recipe.sh TARGET_DIR [MIRROR] [SECURITY_MIRROR] [SUITE]}
MIRROR=${2:-http://deb.debian.org/debian}
SECURITY=${3:-http://deb.debian.org/debian-security}
SUITE=${4:-bookworm}

# Packages from debootstrap (no recommends). jq: the harness demo handler needs it. curl/iproute2/procps: checks.
BASE_PKGS=systemd,systemd-sysv,dbus,ca-certificates,python3,openssl,iproute2,procps,curl,jq
# Installed in the second phase, AFTER `systemctl mask walinuxagent.service`.
AGENT_PKGS="waagent"

log() { printf '[rootfs %s] %s\n' "$(date +%T)" "$*" >&2; }

[ "$(id -u)" = 0 ] || { echo "rootfs-recipe.sh must run as root" >&2; exit 1; }
[ ! -e "$T" ] || [ -z "$(ls -A "$T")" ] || { echo "$T exists and is not empty" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "debootstrap is not installed" >&2; exit 1; }

cleanup_mounts() {
  # deepest first; never leave a mount behind (a later rm -rf of the build dir must not reach the host)
  findmnt -rn -o TARGET | grep -F "$T/" | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done || true
}
trap cleanup_mounts EXIT

# ---------------------------------------------------------------------------------------------- phase A
log "debootstrap --variant=minbase $SUITE from $MIRROR"
mkdir -p "$T"
debootstrap --variant=minbase --include="$BASE_PKGS" "$SUITE" "$T" "$MIRROR" >&2

cat >"$T/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main
EOF
cp /etc/resolv.conf "$T/etc/resolv.conf"   # for apt in the chroot only; docker bind-mounts its own at run time

# ---------------------------------------------------------------------------------------------- phase B
# The agent's DAEMON must never run (it would contact Azure's WireServer from here). Three independent guards:
#   1. policy-rc.d exit 101: invoke-rc.d (the package's sysv postinst path, which in a chroot would otherwise run
#      /etc/init.d/walinuxagent start) is forbidden to start anything;
#   2. `systemctl mask walinuxagent.service` BEFORE the package is installed (an admin mask survives the postinst's
#      `deb-systemd-helper unmask`, which only removes masks it created itself);
#   3. no systemd is running in a chroot, so deb-systemd-invoke does nothing.
# Afterwards we check that no process runs inside the chroot.
mount -t proc proc "$T/proc"
printf '#!/bin/sh\nexit 101\n' >"$T/usr/sbin/policy-rc.d"
chmod 0755 "$T/usr/sbin/policy-rc.d"
chroot "$T" systemctl mask walinuxagent.service
[ "$(readlink "$T/etc/systemd/system/walinuxagent.service")" = /dev/null ] || { echo "mask failed" >&2; exit 1; }

log "apt-get install $AGENT_PKGS (unit masked first)"
chroot "$T" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 apt-get update -qq >&2
if [ "$SUITE" = bullseye ]; then
  # Only the package file comes from bookworm (own lists dir, so bullseye's sources stay the only ones the VM
  # knows); apt then installs it with bullseye's python3-distro, python3-pkg-resources and openssl.
  log "bullseye: taking waagent from bookworm (bullseye's 2.2.47 is older than the harness supports)"
  mkdir -p "$T/root/bookworm-lists/partial" "$T/root/agent-deb"
  echo "deb $MIRROR bookworm main" >"$T/root/bookworm.list"
  BW=(-o Dir::Etc::SourceList=/root/bookworm.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=/root/bookworm-lists)
  chroot "$T" env LC_ALL=C.UTF-8 apt-get "${BW[@]}" update -qq >&2
  chroot "$T" sh -c 'cd /root/agent-deb && exec "$@"' sh env LC_ALL=C.UTF-8 apt-get "${BW[@]}" download waagent >&2
  AGENT_PKGS=$(echo "$T"/root/agent-deb/waagent_*_all.deb | sed "s|^$T||")
fi
chroot "$T" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
  apt-get install -y -qq --no-install-recommends $AGENT_PKGS >&2
rm -rf "$T/root/bookworm-lists" "$T/root/bookworm.list" "$T/root/agent-deb"
[ "$(readlink "$T/etc/systemd/system/walinuxagent.service")" = /dev/null ] \
  || { echo "walinuxagent.service is no longer masked after the install" >&2; exit 1; }
AGENT_VERSION=$(chroot "$T" /usr/bin/python3 -c 'import azurelinuxagent.ga.exthandlers, azurelinuxagent.common.version as v; print(v.AGENT_VERSION)')
log "waagent code: $AGENT_VERSION"

stray=""
for p in /proc/[0-9]*; do
  r=$(readlink "$p/root" 2>/dev/null || true)
  case "$r" in "$T"|"$T"/*) stray="$stray ${p#/proc/}:$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)";; esac
done
if [ -n "$stray" ]; then
  echo "processes were left running inside the chroot:$stray" >&2
  for s in $stray; do kill -KILL "${s%%:*}" 2>/dev/null || true; done
  exit 1
fi

# ---------------------------------------------------------------------------------------------- VM guard
# Belt and braces inside every VM: the WireServer and IMDS are unreachable (blackhole routes in the
# container's own network namespace), so nothing in the VM can even try to contact Azure endpoints.
cat >"$T/etc/systemd/system/adx-e2e-guard.service" <<'EOF'
[Unit]
Description=adx-e2e guard: blackhole Azure WireServer and IMDS inside the test VM
DefaultDependencies=no
Before=sysinit.target network-pre.target walinuxagent.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=ip route replace blackhole 168.63.129.16/32
ExecStart=ip route replace blackhole 169.254.169.254/32

[Install]
WantedBy=sysinit.target
EOF
chroot "$T" systemctl enable adx-e2e-guard.service >&2

# ---------------------------------------------------------------------------------------------- clean up
rm -f "$T/usr/sbin/policy-rc.d"
chroot "$T" apt-get clean
rm -rf "$T"/var/lib/apt/lists/*          # a VM must run apt-get update itself (as real, long-lived images must)
: >"$T/etc/resolv.conf"
: >"$T/etc/machine-id"                    # each boot gets its own (transient) machine id
rm -f "$T/var/lib/dbus/machine-id"
echo adx-vm >"$T/etc/hostname"
rm -rf "$T"/var/log/*.log "$T"/var/log/apt/* "$T"/var/cache/debconf/*-old "$T"/tmp/* "$T"/var/tmp/*
umount "$T/proc"
cat >"$T/etc/adx-e2e-image" <<EOF
suite=$SUITE
mirror=$MIRROR
base=$BASE_PKGS
agent=$AGENT_PKGS
agent_version=$AGENT_VERSION
built=$(date -u +%FT%TZ)
EOF
log "rootfs ready: $(du -sh --one-file-system "$T" | cut -f1)"
