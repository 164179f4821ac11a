#!/bin/sh
# Installs what the test suites run for real, when it is missing (npm test's pretest, and CI):
# openssl (test vectors), python3 + waagent (the real agent code the harness drives), docker.io
# (a real dockerd for the engine and VM suites; its docker CLI for the docs' recipes), debootstrap
# (the VM's root filesystem), jq (the harness demo, the docs' scripts), busybox-static (an image
# for containers on the test dockerd, without a registry), docker-registry and apache2-utils (a
# real registry with htpasswd authentication for the registry login), docker-compose (the compose
# project suite runs Debian 12's 1.29.2), qemu-user-static with the
# arm64 C and C++ runtime libraries (the arm64 package's Node runs under user-mode emulation, so a
# broken arm64 build fails here, not on a customer's VM). Debian/Ubuntu only; elsewhere it says
# what to install.
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
have qemu-aarch64-static || missing="$missing qemu-user-static"
# The shipped arm64 node is dynamically linked: its loader, libc and libstdc++ live under
# /usr/aarch64-linux-gnu, which the emulator is pointed at with -L.
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || missing="$missing libc6-arm64-cross"
[ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || missing="$missing libstdc++6-arm64-cross"
[ -x /usr/bin/docker-registry ] || missing="$missing docker-registry"
have htpasswd || missing="$missing apache2-utils"
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
# docker-registry's own service would serve an open registry on port 5000: the tests run theirs.
if [ -d /run/systemd/system ]; then systemctl mask walinuxagent.service docker-registry.service >/dev/null 2>&1 || true; fi
# docker-registry's default configuration is not installed: the tests give theirs, and /etc/docker
# stays the engine's (nothing of the registry's in it).
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--path-exclude=/etc/docker/registry/* $missing >/dev/null
rmdir /etc/docker/registry 2>/dev/null || true
