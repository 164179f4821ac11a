#!/usr/bin/env bash
# vmctl.sh: the test "VM" (a Debian 11/12/13 container with systemd as PID 1) on a dedicated, isolated dockerd.
# Single source of truth for the infrastructure; test/support/vm/vm.ts and scripts/vm.sh both call it.
#
#   vmctl.sh daemon              start the outer dockerd if it is not running and healthy (idempotent)
#   vmctl.sh image               daemon + cached VM image (build/import when missing); prints the image ref
#   vmctl.sh boot NAME [ARGS..]  daemon + image + `docker run` NAME (extra docker-run ARGS) + wait for systemd
#   vmctl.sh wait NAME [SEC]     wait until `systemctl is-system-running` is running|degraded; prints it
#   vmctl.sh rm NAME             remove the container and its anonymous volumes
#   vmctl.sh down                remove all containers, stop the outer dockerd (and its containerd)
#   vmctl.sh purge               down + delete data-root, run dir and the image cache
#   vmctl.sh status              what is running / cached
#   vmctl.sh host                print the DOCKER_HOST of the outer dockerd
#   vmctl.sh gateway             daemon + print this machine's address on the VMs' bridge (what a VM reaches it at)
#   vmctl.sh key                 print the image cache key and ref (no build)
#   vmctl.sh docker ARGS..       docker CLI against the outer dockerd
#
# Isolation from other dockerds on the host: own config file (never /etc/docker/daemon.json), data-root,
# exec-root, pidfile, unix socket, containerd namespaces, cgroup parent, no default bridge (`bridge: none`)
# and one user-defined bridge network with its own bridge device and subnet.
# Needs root. Talks only to the Debian mirror (debootstrap/apt while building the image).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${ADX_E2E_STATE:-/var/lib/adx-e2e}       # data-root, daemon config, logs
RUNDIR=${ADX_E2E_RUN:-/run/adx-e2e}            # socket, exec-root, pidfile
CACHE=${ADX_E2E_CACHE:-/var/cache/adx-e2e}     # rootfs tarballs keyed by recipe hash
SOCK=$RUNDIR/docker.sock
HOST_URI=unix://$SOCK
NET=${ADX_E2E_NETWORK:-adx-e2e}
BRIDGE=${ADX_E2E_BRIDGE:-adx-e2e0}
SUBNET=${ADX_E2E_SUBNET:-10.213.0.0/24}       # away from 172.17/16, which the VM's own dockerd will want
# Debian release of the VM: bullseye (Debian 11, docker.io 20.10.5; runs bookworm's waagent 2.7.3 code, as its own
# 2.2.47 is older than the harness supports), bookworm (Debian 12, waagent 2.7.3, docker.io 20.10.24) or trixie
# (Debian 13, waagent 2.12, docker.io 26.1.5). Each has its own image and cache tarball.
SUITE=${ADX_E2E_SUITE:-bookworm}
case "$SUITE" in bullseye|bookworm|trixie) ;; *) echo "ADX_E2E_SUITE must be bullseye, bookworm or trixie (got $SUITE)" >&2; exit 2 ;; esac
IMG_REPO=adx-e2e-vm-$SUITE
LABEL=adx-e2e.vm=1
DOCKER_BIN=${ADX_E2E_DOCKER:-docker}
D=("$DOCKER_BIN" -H "$HOST_URI")

log() { printf '[vmctl %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

[ "$(id -u)" = 0 ] || die "must run as root"

# Mirror the host's apt already uses (deb822 first, then one-line format); the only network we may use.
mirror() {
  local m
  m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$m" ] || m=$(awk '$1=="deb" && $2 !~ /security/ && $2 ~ /debian/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${ADX_E2E_MIRROR:-${m:-http://deb.debian.org/debian}}"
}
security_mirror() {
  local m
  m=$(awk '/^URIs:/ && /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  echo "${ADX_E2E_SECURITY_MIRROR:-${m:-http://deb.debian.org/debian-security}}"
}

# Serialise daemon start-up and image builds across processes (jest workers, humans, CI).
with_lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 1800 9 || die "timed out waiting for $STATE/.lock"
}
unlock() { flock -u 9 2>/dev/null || true; exec 9>&-; }

# Remove a directory only when nothing is mounted below it (a bind mount would take the host with it).
safe_rm() {
  local d=$1
  [ -e "$d" ] || return 0
  if [ -n "$(findmnt -rn -o TARGET | grep -F "$d" || true)" ]; then die "refusing to delete $d: something is mounted below it"; fi
  rm -rf --one-file-system "$d"
}

# ---------------------------------------------------------------------------------------------- dockerd
RUN_FLAGS=(
  --label "$LABEL"
  --network "$NET"
  --cap-add ALL --cap-drop SYS_RESOURCE      # "privileged" minus the cap the host cannot grant (--privileged fails)
  --security-opt seccomp=unconfined
  --security-opt apparmor=unconfined
  --security-opt systempaths=unconfined
  --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw
  --tmpfs /run --tmpfs /run/lock             # fresh on every (re)boot, like a real /run
  -v /var/lib/docker                         # anonymous volume on ext4: the VM's dockerd gets overlay2
  -e container=docker
  --stop-signal SIGRTMIN+3                   # systemd halts cleanly on `docker stop/restart`
  --stop-timeout 60
)

# Our own containerd, started explicitly: dockerd 20.10 without --containerd silently uses a system containerd
# when /run/containerd/containerd.sock exists, which would tie our VMs to someone else's daemon. Same paths as
# dockerd's supervised containerd would use.
CTD_SOCK=$RUNDIR/exec/containerd/containerd.sock

alive() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]; }
# PID from a pidfile, only when that process is alive and is ours (its command line names our config file)
our_pid() {  # PIDFILE CMDLINE-PATTERN
  local p; p=$(cat "$1" 2>/dev/null || true)
  [ -n "$p" ] && alive "$p" || return 0
  # shellcheck disable=SC2254  # $2 is a glob on purpose
  case "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" in $2) echo "$p" ;; esac
  return 0
}
daemon_pid() { our_pid "$RUNDIR/dockerd.pid" "*dockerd*$STATE/daemon.json*"; }
containerd_pid() { our_pid "$RUNDIR/containerd.pid" "*containerd*$STATE/containerd.toml*"; }
daemon_healthy() { [ -S "$SOCK" ] && timeout 10 "${D[@]}" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
containerd_healthy() { [ -S "$CTD_SOCK" ] && timeout 10 ctr --address "$CTD_SOCK" version >/dev/null 2>&1; }

stop_pid() {  # PID NAME: SIGTERM, wait up to 30 s, then SIGKILL
  local pid=$1 name=$2
  [ -n "$pid" ] || return 0
  log "stopping $name $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 60); do alive "$pid" || return 0; sleep 0.5; done
  log "$name $pid still running; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 1
}

network_ensure() {
  "${D[@]}" network inspect "$NET" >/dev/null 2>&1 && return 0
  log "creating network $NET ($SUBNET, bridge $BRIDGE)"
  "${D[@]}" network create --driver bridge --subnet "$SUBNET" \
    -o com.docker.network.bridge.name="$BRIDGE" --label adx-e2e=1 "$NET" >/dev/null \
    || "${D[@]}" network inspect "$NET" >/dev/null   # lost a race with another process: fine
}

containerd_up() {
  local pid; pid=$(containerd_pid)
  if [ -n "$pid" ]; then
    for _ in $(seq 20); do containerd_healthy && return 0; sleep 0.5; done
    stop_pid "$pid" containerd
  fi
  command -v containerd >/dev/null || die "containerd not found (apt-get install docker.io)"
  command -v ctr >/dev/null || die "ctr not found (part of the containerd package)"
  mkdir -p "$STATE/docker/containerd/daemon" "$RUNDIR/exec/containerd/daemon"
  printf '%s\n' 'version = 2' \
    "root = \"$STATE/docker/containerd/daemon\"" \
    "state = \"$RUNDIR/exec/containerd/daemon\"" \
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]' \
    '[grpc]' "  address = \"$CTD_SOCK\"" \
    '[debug]' "  address = \"$RUNDIR/exec/containerd/containerd-debug.sock\"" '  level = "info"' \
    >"$STATE/containerd.toml"
  rm -f "$RUNDIR/containerd.pid"
  # a background job of a non-interactive shell is not a process-group leader, so setsid does not fork: $! is
  # containerd's PID
  setsid containerd --config "$STATE/containerd.toml" >>"$STATE/containerd.log" 2>&1 </dev/null &
  echo $! >"$RUNDIR/containerd.pid"
  for _ in $(seq 80); do containerd_healthy && return 0; sleep 0.25; done
  tail -20 "$STATE/containerd.log" >&2
  die "containerd did not come up"
}

daemon_up() {
  if daemon_healthy && [ -n "$(containerd_pid)" ]; then network_ensure; return 0; fi
  with_lock
  if ! daemon_healthy || [ -z "$(containerd_pid)" ]; then
    local pid t0; t0=$(now)
    if [ -z "$(containerd_pid)" ]; then
      stop_pid "$(daemon_pid)" dockerd     # a dockerd without our containerd: restart both
    fi
    pid=$(daemon_pid)
    if [ -n "$pid" ]; then   # ours, but not answering: maybe still starting; else restart it
      for _ in $(seq 30); do daemon_healthy && break; sleep 0.5; done
      daemon_healthy || { log "dockerd $pid does not answer"; stop_pid "$pid" dockerd; }
    fi
    containerd_up
    if ! daemon_healthy; then
      command -v dockerd >/dev/null || die "dockerd not found (apt-get install docker.io)"
      mkdir -p "$STATE/docker" "$RUNDIR/exec"
      echo '{}' >"$STATE/daemon.json"          # never read /etc/docker/daemon.json
      rm -f "$RUNDIR/dockerd.pid" "$SOCK"       # stale (dockerd refuses to start on the pidfile of a zombie)
      log "starting dockerd on $HOST_URI (data-root $STATE/docker)"
      setsid -f dockerd --config-file "$STATE/daemon.json" \
        --data-root "$STATE/docker" --exec-root "$RUNDIR/exec" --pidfile "$RUNDIR/dockerd.pid" \
        -H "$HOST_URI" --containerd "$CTD_SOCK" --bridge none --cgroup-parent /adx-e2e \
        --containerd-namespace adx-e2e --containerd-plugins-namespace adx-e2e-plugins \
        >>"$STATE/dockerd.log" 2>&1 </dev/null
      for _ in $(seq 120); do daemon_healthy && break; sleep 0.5; done
      daemon_healthy || { tail -30 "$STATE/dockerd.log" >&2; die "dockerd did not come up"; }
      log "dockerd up in $(since "$t0")s"
    fi
  fi
  network_ensure
  unlock
}

daemon_stop() {
  stop_pid "$(daemon_pid)" dockerd
  stop_pid "$(containerd_pid)" containerd
  # dockerd normally unmounts everything itself; clean up what it did not (deepest first)
  findmnt -rn -o TARGET | grep -E "^($STATE/docker|$RUNDIR/exec)(/|$)" | sort -r \
    | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done || true
  rm -f "$SOCK" "$RUNDIR/dockerd.pid" "$RUNDIR/containerd.pid"
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE" || true; fi
}

# ---------------------------------------------------------------------------------------------- image
recipe_key() {
  { sha256sum <"$HERE/rootfs-recipe.sh"; echo "$SUITE $(mirror) $(security_mirror) $(dpkg --print-architecture)"; } \
    | sha256sum | cut -c1-16
}

image_ensure() {
  local key ref tar t0
  key=$(recipe_key); ref=$IMG_REPO:$key
  if "${D[@]}" image inspect "$ref" >/dev/null 2>&1; then echo "$ref"; return 0; fi
  with_lock
  if ! "${D[@]}" image inspect "$ref" >/dev/null 2>&1; then
    mkdir -p "$CACHE"
    tar=$CACHE/rootfs-$SUITE-$key.tar
    [ -s "$CACHE/rootfs-$key.tar" ] && mv -f "$CACHE/rootfs-$key.tar" "$tar"   # named before suites were
    if [ ! -s "$tar" ]; then
      if ! command -v debootstrap >/dev/null; then
        log "installing debootstrap"
        apt-get update -qq >&2 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
      fi
      local b=$CACHE/build-$key
      safe_rm "$b"
      t0=$(now)
      log "building rootfs $key (debootstrap; about a minute; log: $CACHE/build-$key.log)"
      if ! "$HERE/rootfs-recipe.sh" "$b/rootfs" "$(mirror)" "$(security_mirror)" "$SUITE" >"$CACHE/build-$key.log" 2>&1; then
        tail -30 "$CACHE/build-$key.log" >&2
        findmnt -rn -o TARGET | grep -F "$b/" | sort -r | while read -r m; do umount -l "$m" || true; done || true
        die "rootfs build failed"
      fi
      tar --numeric-owner -C "$b/rootfs" -cf "$tar.tmp" .
      mv -f "$tar.tmp" "$tar"
      safe_rm "$b"
      log "rootfs built in $(since "$t0")s: $tar ($(du -h "$tar" | cut -f1))"
    fi
    t0=$(now)
    # (dockerd 20.10's import accepts no STOPSIGNAL change; `boot` passes --stop-signal SIGRTMIN+3)
    "${D[@]}" import --change 'CMD ["/sbin/init"]' --change 'ENV container=docker' \
      --message "adx-e2e test VM, recipe $key" "$tar" "$ref" >/dev/null
    log "imported $ref in $(since "$t0")s"
    # drop images and tarballs of older recipes
    "${D[@]}" image ls --format '{{.Repository}}:{{.Tag}}' "$IMG_REPO" | grep -vx "$ref" \
      | xargs -r "${D[@]}" image rm >/dev/null 2>&1 || true
    find "$CACHE" -maxdepth 1 -name "rootfs-$SUITE-*.tar" ! -name "rootfs-$SUITE-$key.tar" -delete
  fi
  unlock
  echo "$ref"
}

# ---------------------------------------------------------------------------------------------- VMs
wait_systemd() {  # NAME [TIMEOUT_S]: the bus socket appears ~0.3 s after start, so poll, then --wait
  local name=$1 timeout=${2:-180} s deadline
  deadline=$(( $(date +%s) + timeout ))
  while :; do
    s=$("${D[@]}" exec "$name" timeout 60 systemctl is-system-running --wait 2>/dev/null || true)
    case "$s" in
      running) echo "$s"; return 0 ;;
      degraded)
        log "$name is degraded; failed units: $("${D[@]}" exec "$name" systemctl list-units --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')"
        echo "$s"; return 0 ;;
    esac
    if [ "$("${D[@]}" inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
      "${D[@]}" logs --tail 30 "$name" >&2 2>&1 || true
      die "container $name is not running (systemd state: ${s:-none})"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "systemd in $name not up after ${timeout}s (state: ${s:-none})"
    sleep 0.1
  done
}

# The lowest address from .10 of $SUBNET that no container on $NET holds or has pinned (a stopped one keeps its
# pinned address for its restart).
free_ip() {
  local base used i
  base=${SUBNET%/*}; base=${base%.*}
  used=" $("${D[@]}" ps -aq --filter "network=$NET" | xargs -r "${D[@]}" inspect -f \
    '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{with .IPAMConfig}}{{.IPv4Address}}{{end}} {{end}}' | tr '\n' ' ') "
  for i in $(seq 10 250); do
    case "$used" in *" $base.$i "*) ;; *) echo "$base.$i"; return 0 ;; esac
  done
  die "no free address left in $SUBNET"
}

boot() {
  local name=${1:?boot NAME [docker-run args]}; shift
  local ref t0 st
  daemon_up
  ref=$(image_ensure)
  if "${D[@]}" container inspect "$name" >/dev/null 2>&1; then
    if [ "$("${D[@]}" inspect -f '{{.State.Running}}' "$name")" = true ] && [ "${ADX_E2E_REUSE:-0}" = 1 ]; then
      wait_systemd "$name" >/dev/null; "${D[@]}" inspect -f '{{.Id}}' "$name"; return 0
    fi
    "${D[@]}" rm -f -v "$name" >/dev/null
  fi
  t0=$(now)
  # A fixed address, as an Azure VM keeps its private IP across reboots: with addresses handed out at start, a
  # VM restarted while another boots can come back with a new one, and the handler then rightly re-issues a
  # certificate whose names include the old address. Chosen and taken under the lock, so two boots never pick
  # the same one.
  with_lock
  local ip; ip=$(free_ip)
  # /etc/machine-id is empty in the image; systemd takes container_uuid instead, so each VM has its own machine
  # id that stays the same across reboots (a persistent journal then shows previous boots: journalctl -b -1)
  "${D[@]}" run -d --name "$name" --hostname "${ADX_E2E_HOSTNAME:-adx-vm}" "${RUN_FLAGS[@]}" --ip "$ip" \
    -e container_uuid="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" "$@" "$ref" /sbin/init >/dev/null \
    || { unlock; die "docker run $name failed"; }
  unlock
  st=$(wait_systemd "$name" "${ADX_E2E_BOOT_TIMEOUT:-180}")
  log "$name: systemd $st $(since "$t0")s after docker run"
  "${D[@]}" inspect -f '{{.Id}}' "$name"
}

rm_vm() {
  daemon_healthy || return 0
  "${D[@]}" rm -f -v "$@" >/dev/null 2>&1 || true
}

down() {
  if daemon_healthy; then
    local ids; ids=$("${D[@]}" ps -aq)
    if [ -n "$ids" ]; then log "removing containers: $(echo $ids)"; "${D[@]}" rm -f -v $ids >/dev/null || true; fi
    "${D[@]}" volume prune -f >/dev/null 2>&1 || true
  fi
  daemon_stop
}

purge() {
  down
  safe_rm "$STATE"; safe_rm "$RUNDIR"; safe_rm "$CACHE"
  log "purged $STATE $RUNDIR $CACHE"
}

status() {
  local pid cpid; pid=$(daemon_pid); cpid=$(containerd_pid)
  if [ -n "$pid" ]; then echo "dockerd:  running (pid $pid), $HOST_URI, $(daemon_healthy && echo healthy || echo 'NOT answering')"
  else echo "dockerd:  not running ($HOST_URI)"; fi
  echo "containerd: ${cpid:+running (pid $cpid), }$CTD_SOCK"
  echo "image:    $IMG_REPO:$(recipe_key) (cache key from rootfs-recipe.sh)"
  echo "cache:    $(ls -1sh "$CACHE"/rootfs-*.tar 2>/dev/null | tr '\n' ' ' || true)"
  if daemon_healthy; then
    echo "images:"; "${D[@]}" image ls "$IMG_REPO" --format '  {{.Repository}}:{{.Tag}} {{.Size}} {{.CreatedSince}}'
    echo "VMs:"
    local n
    for n in $("${D[@]}" ps -a --format '{{.Names}}'); do
      local st; st=$("${D[@]}" inspect -f '{{.State.Status}}' "$n")
      if [ "$st" = running ]; then st="$st, systemd $("${D[@]}" exec "$n" systemctl is-system-running 2>/dev/null || true)"; fi
      echo "  $n ($st)"
    done
  fi
}

cmd=${1:-}; shift || true
case "$cmd" in
  daemon) daemon_up; echo "$HOST_URI" ;;
  image) daemon_up; image_ensure ;;
  boot) boot "$@" ;;
  wait) wait_systemd "$@" ;;
  rm) rm_vm "$@" ;;
  down) down ;;
  purge) purge ;;
  status) status ;;
  host) echo "$HOST_URI" ;;
  gateway)
    daemon_up
    ip -4 -o addr show dev "$BRIDGE" | awk '{ sub(/\/.*/, "", $4); print $4; exit }' | grep . \
      || die "bridge $BRIDGE has no IPv4 address" ;;
  key) echo "$(recipe_key) $IMG_REPO:$(recipe_key)" ;;
  docker) exec "${D[@]}" "$@" ;;
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
