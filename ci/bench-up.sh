#!/usr/bin/env bash
# bench-up.sh lxd|incus - bring up lxops's real test bench on a Debian 12
# machine without systemd (root): a container manager, a zfs-fuse pool, the
# test images, then write the environment file the real test tier reads.
#
#   lxd    LXD 5.0.2 from Debian main (CLI lxc)
#   incus  Incus 6.0 from bookworm-backports, incus-base + incus-client (CLI incus)
#
# Only one manager runs at a time: the other one is stopped first if this
# bench started it (a manager the bench did not start makes it fail).
# Idempotent: a second run finds everything up and takes a few seconds.
#
# Environment knobs:
#   LXOPS_BENCH_DIR     state dir: pids/, logs/, zfs vdev, bin/zfs shim, env.sh
#                       (default /var/tmp/lxops-bench)
#   LXOPS_BENCH_CACHE   built image tarballs, keyed by a hash of their recipe
#                       (default /var/cache/lxops-bench)
#   LXOPS_BENCH_DEBIAN  1 (default): also build/import the debian-mini image (~45 s the
#                       first time, cached afterwards); 0 to skip it
#   LXOPS_BENCH_BR_ADDR bridge address (default 10.77.0.1/24 lxd, 10.78.0.1/24 incus)
#   LXOPS_BENCH_ZPOOL   zfs pool name (default lxopsci); LXOPS_BENCH_ZSIZE (2G)
#   LXOPS_BENCH_SSH_PORT  the bench's sshd on 127.0.0.1 (default 2222): `ssh
#                       lxops-bench-ssh` on the bench PATH logs in as root
#
# Result: $LXOPS_BENCH_DIR/env.sh (written last, only when the smoke test
# passed) exporting LXOPS_BENCH_BACKEND, _CLI, _ZPOOL, _BRIDGE, ... and PATH
# with the zfs shim first. ci/bench-down.sh stops what this started.
set -euo pipefail

BACKEND=${1:-}
HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${LXOPS_BENCH_DIR:-/var/tmp/lxops-bench}
CACHE=${LXOPS_BENCH_CACHE:-/var/cache/lxops-bench}
DEBIAN=${LXOPS_BENCH_DEBIAN:-1}
ZPOOL=${LXOPS_BENCH_ZPOOL:-lxopsci}
ZSIZE=${LXOPS_BENCH_ZSIZE:-2G}
SSH_PORT=${LXOPS_BENCH_SSH_PORT:-2222}
PIDS=$STATE/pids
LOGS=$STATE/logs
ENV_FILE=$STATE/env.sh
export DEBIAN_FRONTEND=noninteractive

die() { printf 'bench-up: ERROR: %s\n' "$*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms); T_STEP=""; STEP_NAME=""
end_step() {
  if [ -n "$T_STEP" ]; then printf '    [%6d ms] %s\n' $(( $(now_ms) - T_STEP )) "$STEP_NAME"; fi
}
step() { end_step; STEP_NAME=$*; T_STEP=$(now_ms); printf '==> %s\n' "$*"; }
# our_pid NAME EXE: pids/NAME.pid names a live process running EXE
our_pid() {
  local f=$PIDS/$1.pid pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$2")" ]
}

case "$BACKEND" in
  lxd)
    CLI=lxc; DAEMON=/usr/bin/lxd; BRIDGE=lxdbr0; BR_ADDR=${LXOPS_BENCH_BR_ADDR:-10.77.0.1/24}
    MANAGER_PKGS=(lxd lxd-client); MANAGER_APT=()
    DAEMON_ARGS=(--group lxd --logfile=/var/log/lxd/lxd.log); DAEMON_LOG=/var/log/lxd
    OTHER=incus; OTHER_DAEMON=/usr/libexec/incus/incusd; OTHER_CLI=incus ;;
  incus)
    CLI=incus; DAEMON=/usr/libexec/incus/incusd; BRIDGE=incusbr0; BR_ADDR=${LXOPS_BENCH_BR_ADDR:-10.78.0.1/24}
    MANAGER_PKGS=(incus-base incus-client); MANAGER_APT=(-t bookworm-backports)
    DAEMON_ARGS=(--group incus-admin --logfile=/var/log/incus/incus.log); DAEMON_LOG=/var/log/incus
    OTHER=lxd; OTHER_DAEMON=/usr/bin/lxd; OTHER_CLI=lxc ;;
  *) echo "usage: $0 lxd|incus" >&2; exit 2 ;;
esac
waitready() {
  if [ "$BACKEND" = lxd ]; then lxd waitready --timeout="$1"; else "$DAEMON" waitready --timeout="$1"; fi
}
cli() { "$CLI" "$@" </dev/null; }

step "preflight (backend $BACKEND, state $STATE, cache $CACHE, debian-mini $DEBIAN)"
[ "$(id -u)" = 0 ] || die "run as root"
[ "$(ps -p 1 -o comm= 2>/dev/null || cat /proc/1/comm)" != systemd ] \
  || die "PID 1 is systemd: this bench starts daemons by hand and is meant for machines without systemd"
mkdir -p "$STATE" "$PIDS" "$LOGS" "$STATE/zfs" "$STATE/bin" "$CACHE"
rm -f "$ENV_FILE"   # the bench counts as down until this run completes
ARCHIVE=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)

step "packages"
PKGS=(nftables busybox-static rsync sudo shellcheck zfs-fuse util-linux debootstrap openssh-server openssh-client)
missing=()
for p in "${MANAGER_PKGS[@]}" "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "    to install: ${missing[*]}"
  if [ "$BACKEND" = incus ] && ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    [ -n "$ARCHIVE" ] || die "no Debian archive URI found in /etc/apt/sources.list.d/*.sources"
    cat > /etc/apt/sources.list.d/bookworm-backports.sources <<SRC
Types: deb
URIs: $ARCHIVE
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    echo "    added the bookworm-backports suite (for incus)"
  fi
  apt-get update -qq
  # Packages must not start system services (an sshd on port 22, …): the
  # bench starts what it needs itself.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq "${MANAGER_APT[@]}" "${MANAGER_PKGS[@]}" >/dev/null
  apt-get install -y -qq "${PKGS[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
  trap - EXIT
else
  echo "    all installed"
fi
dpkg-query -W -f='    ${Package} ${Version}\n' "${MANAGER_PKGS[@]}" zfs-fuse busybox-static shellcheck

step "subuid/subgid: root may map host id 1000 (raw.idmap 'both 1000 1000')"
IDMAP_CHANGED=0
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  grep -Eq '^root:[0-9]+:[0-9]{6,}$' "$f" || { echo 'root:1000000:1000000000' >> "$f"; IDMAP_CHANGED=1; }
  grep -q '^root:1000:1$' "$f" || { echo 'root:1000:1' >> "$f"; IDMAP_CHANGED=1; }
  # Installing LXD adds another root range (root:1001000000:10000001): Incus
  # maps container id 0 once per range and then cannot start any container.
  # root keeps one large range and host id 1000 only.
  first=$(grep -Em1 '^root:[0-9]+:[0-9]{6,}$' "$f")
  if grep -E '^root:' "$f" | grep -vxF -e "$first" -e 'root:1000:1' | grep -q .; then
    { grep -v '^root:' "$f"; printf '%s\nroot:1000:1\n' "$first"; } > "$f.lxops-new"
    mv "$f.lxops-new" "$f"
    IDMAP_CHANGED=1
  fi
done
echo "    changed: $IDMAP_CHANGED"

step "only one manager: stop $OTHER if the bench started it"
if our_pid "$OTHER" "$OTHER_DAEMON"; then
  bash "$HERE/bench-down.sh" "$OTHER" | sed 's/^/    /'
elif [ -x "$OTHER_DAEMON" ] && "$OTHER_CLI" info >/dev/null 2>&1 </dev/null; then
  die "a $OTHER daemon this bench did not start is running; stop it first"
else
  echo "    $OTHER not running"
fi

step "$BACKEND daemon"
mkdir -p "$DAEMON_LOG"
if our_pid "$BACKEND" "$DAEMON" && [ "$IDMAP_CHANGED" = 1 ]; then
  echo "    /etc/subuid changed: restarting it"
  bash "$HERE/bench-down.sh" "$BACKEND" | sed 's/^/    /'
fi
if our_pid "$BACKEND" "$DAEMON"; then
  echo "    already running, pid $(cat "$PIDS/$BACKEND.pid")"
else
  if waitready 1 >/dev/null 2>&1; then die "a $BACKEND daemon this bench did not start is running; stop it first"; fi
  # same PATH as Debian's unit files (incus wants /usr/libexec/incus first)
  PATH=/usr/libexec/incus:$PATH setsid nohup "$DAEMON" "${DAEMON_ARGS[@]}" \
    >>"$LOGS/$BACKEND.out" 2>&1 </dev/null &
  echo $! > "$PIDS/$BACKEND.pid"
  waitready 60 || { tail -20 "$DAEMON_LOG"/*.log >&2; die "$BACKEND did not become ready"; }
  echo "    started, pid $(cat "$PIDS/$BACKEND.pid"), log $DAEMON_LOG"
fi

step "storage pool 'default' (dir), bridge $BRIDGE $BR_ADDR (no NAT), default profile"
# `init --auto` fails here (no free subnet found): preseed fixed values
if ! cli storage show default >/dev/null 2>&1; then
  preseed="storage_pools:
- name: default
  driver: dir
networks:
- name: $BRIDGE
  type: bridge
  config:
    ipv4.address: $BR_ADDR
    ipv4.nat: \"false\"
    ipv4.routing: \"false\"
    ipv6.address: none
    raw.dnsmasq: no-resolv
profiles:
- name: default
  devices:
    root: {path: /, pool: default, type: disk}
    eth0: {name: eth0, network: $BRIDGE, type: nic}"
  if [ "$BACKEND" = lxd ]; then lxd init --preseed <<<"$preseed"; else incus admin init --preseed <<<"$preseed"; fi
  echo "    preseed applied"
else
  echo "    pool exists"
  if ! cli network show "$BRIDGE" >/dev/null 2>&1; then
    cli network create "$BRIDGE" ipv4.address="$BR_ADDR" ipv4.nat=false ipv4.routing=false \
      ipv6.address=none raw.dnsmasq=no-resolv
  fi
fi

step "zfs-fuse daemon and pool $ZPOOL"
if our_pid zfs-fuse /usr/sbin/zfs-fuse; then
  echo "    zfs-fuse already running, pid $(cat "$PIDS/zfs-fuse.pid")"
elif zpool list >/dev/null 2>&1; then
  die "a zfs-fuse this bench did not start is running; stop it first"
else
  # a killed zfs-fuse leaves "Transport endpoint is not connected" mounts
  awk '$3 == "fuse.zfs" {print $2}' /proc/mounts | sort -r | while read -r m; do
    echo "    lazy-unmounting stale $m"; umount -l "$m" || true
  done
  # --disable-page-cache: else stale contents after an incremental receive -F
  setsid nohup /usr/sbin/zfs-fuse --no-daemon --no-kstat-mount --disable-page-cache \
    >>"$LOGS/zfs-fuse.out" 2>&1 </dev/null &
  echo $! > "$PIDS/zfs-fuse.pid"
  for _ in $(seq 100); do zpool list >/dev/null 2>&1 && break; sleep 0.1; done
  zpool list >/dev/null 2>&1 || die "zfs-fuse does not answer (see $LOGS/zfs-fuse.out)"
  echo "    started zfs-fuse, pid $(cat "$PIDS/zfs-fuse.pid")"
fi
VDEV=$STATE/zfs/$ZPOOL.img
if zpool list -H "$ZPOOL" >/dev/null 2>&1; then
  echo "    pool imported"
elif [ -f "$VDEV" ] && zpool import -d "$STATE/zfs" "$ZPOOL" 2>/dev/null; then
  echo "    pool re-imported from $VDEV"
else
  rm -f "$VDEV"; truncate -s "$ZSIZE" "$VDEV"
  zpool create "$ZPOOL" "$VDEV" 2>&1 | sed 's/^/    /'
  echo "    pool created on $VDEV ($ZSIZE sparse)"
fi
zfs mount -a
ZMOUNT=$(zfs get -H -o value mountpoint "$ZPOOL")
install -m 755 "$HERE/zfs-shim.sh" "$STATE/bin/zfs"
echo "    mounted at $ZMOUNT; zfs shim at $STATE/bin/zfs"

# ensure_image ALIAS BUILDER KEY-MATERIAL...: build (or take from the cache)
# and import, replacing an image of that alias with another fingerprint
ensure_image() {
  local alias=$1 builder=$2 key dir tmp fp cur
  shift 2
  key=$( { cat "$builder" "$@"; } | sha256sum | cut -c1-16)
  dir=$CACHE/$alias-$key
  if [ -s "$dir/rootfs.tar.gz" ] && [ -s "$dir/metadata.tar.gz" ]; then
    echo "    cached: $dir"
  else
    tmp=$CACHE/.build-$alias-$$
    rm -rf "$tmp"
    local t
    t=$(now_ms)
    bash "$builder" "$tmp" || { rm -rf "$tmp"; die "building $alias failed"; }
    rm -rf "$dir"; mv "$tmp" "$dir"
    echo "    built in $(( $(now_ms) - t )) ms: $dir ($(du -sh "$dir" | cut -f1))"
  fi
  find "$CACHE" -maxdepth 1 -name "$alias-*" ! -name "$alias-$key" -exec rm -rf {} +
  fp=$(cat "$dir/metadata.tar.gz" "$dir/rootfs.tar.gz" | sha256sum | cut -d' ' -f1)
  cur=$(cli image info "$alias" 2>/dev/null | awk '/^Fingerprint:/ {print $2}' || true)
  if [ "$cur" = "$fp" ]; then
    echo "    '$alias' already imported (${fp:0:12})"
  else
    if [ -n "$cur" ]; then cli image delete "$alias"; echo "    removed old '$alias' (${cur:0:12})"; fi
    if cli image info "$fp" >/dev/null 2>&1; then
      cli image alias create "$alias" "$fp"
    else
      cli image import -q "$dir/metadata.tar.gz" "$dir/rootfs.tar.gz" --alias "$alias"
    fi
    echo "    imported '$alias' (${fp:0:12})"
  fi
  printf '%s' "$fp" > "$STATE/$alias.fingerprint"
}

step "image tiny"
ensure_image tiny "$HERE/image-tiny.sh" "$HERE"/tiny-standins/* \
  <(dpkg-query -W -f='${Version}' busybox-static)
TINY_FP=$(cat "$STATE/tiny.fingerprint")
IMAGES=tiny
if [ "$DEBIAN" = 1 ]; then
  step "image debian-mini (debootstrap, cached)"
  ensure_image debian-mini "$HERE/image-debian-mini.sh" <(printf 'bookworm %s' "$ARCHIVE")
  IMAGES="tiny debian-mini"
fi

step "sshd on 127.0.0.1:$SSH_PORT (key login as root, for copy-filesystems)"
SSH=$STATE/ssh
mkdir -p "$SSH" /run/sshd
chmod 700 "$SSH"
[ -s "$SSH/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH/host_ed25519"
[ -s "$SSH/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C lxops-bench -f "$SSH/id_ed25519"
cp "$SSH/id_ed25519.pub" "$SSH/authorized_keys"
# Commands over ssh see the bench PATH (the zfs shim first), as local ones do.
cat > "$SSH/sshd_config" <<CFG
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSH/host_ed25519
PidFile $PIDS/sshd.pid
AuthorizedKeysFile $SSH/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv PATH=$STATE/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CFG
cat > "$SSH/ssh_config" <<CFG
Host lxops-bench-ssh
  HostName 127.0.0.1
  Port $SSH_PORT
  User root
  IdentityFile $SSH/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile $SSH/known_hosts
  LogLevel ERROR
CFG
# `ssh` on the bench PATH reads the bench's client config
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$SSH/ssh_config" > "$STATE/bin/ssh"
chmod 755 "$STATE/bin/ssh"
if our_pid sshd /usr/sbin/sshd; then
  echo "    already running, pid $(cat "$PIDS/sshd.pid")"
else
  /usr/sbin/sshd -f "$SSH/sshd_config" -E "$LOGS/sshd.log" || die "sshd did not start (see $LOGS/sshd.log)"
  for _ in $(seq 50); do [ -s "$PIDS/sshd.pid" ] && break; sleep 0.1; done
  echo "    started, pid $(cat "$PIDS/sshd.pid"), log $LOGS/sshd.log"
fi
"$STATE/bin/ssh" -o BatchMode=yes lxops-bench-ssh -- 'command -v zfs' | grep -qx "$STATE/bin/zfs" \
  || die "ssh to lxops-bench-ssh does not run the bench's zfs"

step "smoke test: launch tiny, exec, delete; zfs create/snapshot/destroy"
SMOKE=lxops-bench-smoke-$$
cli launch -q tiny "$SMOKE" 2>/dev/null || die "smoke: launch failed"
out=$(cli exec "$SMOKE" -- sh -c 'echo hi; cat /etc/alpine-release') || true
cli delete -f "$SMOKE"
[ "$out" = "hi
3.19.1" ] || die "smoke: exec said '$out'"
PATH=$STATE/bin:$PATH
zfs create "$ZPOOL/$SMOKE"
echo x > "$ZMOUNT/$SMOKE/f"
zfs snapshot "$ZPOOL/$SMOKE@s"
zfs destroy -r "$ZPOOL/$SMOKE"
echo "    ok"

step "write $ENV_FILE"
{
  echo "# lxops real test bench - written by ci/bench-up.sh $(date -u +%FT%TZ); ci/bench-down.sh removes it"
  echo "export LXOPS_BENCH_BACKEND=$BACKEND"
  echo "export LXOPS_BENCH_CLI=$CLI"
  echo "export LXOPS_BENCH_DIR=$STATE"
  echo "export LXOPS_BENCH_ZPOOL=$ZPOOL"
  echo "export LXOPS_BENCH_ZPOOL_MOUNT=$ZMOUNT"
  echo "export LXOPS_BENCH_BRIDGE=$BRIDGE"
  echo "export LXOPS_BENCH_BRIDGE_ADDR=$BR_ADDR"
  echo "export LXOPS_BENCH_IMAGES=\"$IMAGES\""
  echo "export LXOPS_BENCH_DEBIAN=$DEBIAN"
  echo "export LXOPS_BENCH_TINY_FINGERPRINT=$TINY_FP"
  echo "export LXOPS_BENCH_SSH=lxops-bench-ssh"
  echo "export PATH=\"$STATE/bin:\$PATH\""
} > "$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
sed 's/^/    /' "$ENV_FILE"
end_step
printf '==> bench up (%s) in %d ms\n' "$BACKEND" $(( $(now_ms) - T0 ))
