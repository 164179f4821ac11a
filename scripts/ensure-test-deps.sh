#!/bin/sh
# Installs what the test suites run for real, when it is missing (npm test's pretest, and CI):
# openssl (test vectors), python3 + waagent (the real agent code the harness drives), docker.io
# (a real dockerd for the engine and VM suites), debootstrap (the VM's root filesystem), jq (the
# harness demo), busybox-static (an image for containers on the test dockerd, without a
# registry), docker-compose (the compose project suite runs Debian 12's 1.29.2). Debian/Ubuntu only; elsewhere it says what to install.
set -eu

missing=
have() { command -v "$1" >/dev/null 2>&1; }
have openssl || missing="$missing openssl"
have python3 || missing="$missing python3"
[ -d /usr/lib/python3/dist-packages/azurelinuxagent ] || missing="$missing waagent"
[ -x /usr/sbin/dockerd ] || [ -x /usr/bin/dockerd ] || missing="$missing docker.io"
have debootstrap || missing="$missing debootstrap"
have jq || missing="$missing jq"
[ -x /bin/busybox ] || missing="$missing busybox-static"
have ip || missing="$missing iproute2"
have docker-compose || missing="$missing docker-compose"

[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! have apt-get; then
  echo "ensure-test-deps: please install:$missing" >&2
  exit 1
fi
echo "ensure-test-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Installing waagent where systemd is PID 1 would start the agent's daemon, which must never
# run here (it would try to reach Azure's wire server): mask it first.
if [ -d /run/systemd/system ]; then systemctl mask walinuxagent.service >/dev/null 2>&1 || true; fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
