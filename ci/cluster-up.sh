#!/usr/bin/env bash
# cluster-up.sh - bring up a real three-member Incus cluster on this one
# machine for lxops's "cluster tier" tests (root, Debian 12, no systemd).
#
# Run after `ci/bench-up.sh incus` has installed the packages (incus-base,
# incus-client, zfs-fuse, openssh-server, busybox-static); this script
# installs nothing. The single-host bench may keep running alongside.
#
# Each member m1 m2 m3 lives in its own network + mount namespace, held by
# a "keeper" process (`unshare -m -n`, recorded in mN/keeper.pid), and runs
# there: its own incusd (INCUS_DIR=$STATE/mN/incus), its own sshd on
# 10.79.0.1N:22 (every command logged to mN/ssh-commands.log) and its own
# zfs-fuse with a pool `lxcl` (sparse file vdev mN/lxcl.img), with private
# /run, /var/lib/zfs and /etc/zfs; mN/srv is bind-mounted on /srv/lxcl.
# Host bridge lxclbr0 10.79.0.1/24 links the members' veths (no route out).
# The cluster: m1 bootstrapped by preseed (dir pool `data`, bridge network
# `lxclnet` 10.80.0.1/24 with DHCP, default profile), m2 and m3 joined with
# tokens; image `tiny` imported.
#
# Every run starts from scratch: leftovers of an earlier run are torn down
# first with ci/cluster-down.sh (cluster addresses cannot change after a
# join, so nothing is reused). env.sh is written last, only after the smoke
# test passed.
#
# Environment knobs:
#   LXOPS_BENCH_CACHE   image tarball cache shared with bench-up.sh
#                       (default /var/cache/lxops-bench)
#   LXOPS_CLUSTER_ZSIZE per-member zfs vdev size (default 2G, sparse)
#   LXOPS_CLUSTER_SMOKE 1 (default) run the smoke test; 0 skips it
#
# Result: /var/tmp/lxops-cluster/env.sh; `. env.sh` puts
# /var/tmp/lxops-cluster/bin first on PATH: `incus` (talks to the cluster via
# m1's socket), `ssh lxcl-mN`, and `lxcl-member mN CMD...` (runs CMD inside
# member mN's namespaces, zfs shim first on PATH).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=/var/tmp/lxops-cluster          # fixed: the tests and the wrappers use it
CACHE=${LXOPS_BENCH_CACHE:-/var/cache/lxops-bench}
ZSIZE=${LXOPS_CLUSTER_ZSIZE:-2G}
SMOKE=${LXOPS_CLUSTER_SMOKE:-1}
MEMBERS=(m1 m2 m3)
ZPOOL=lxcl
SRV=/srv/lxcl
NET=lxclnet
NET_ADDR=10.80.0.1/24
BRIDGE=lxclbr0
BR_ADDR=10.79.0.1/24
INCUSD=/usr/libexec/incus/incusd
DAEMON_PATH=/usr/libexec/incus:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
MEMBER_PATH=$STATE/mbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CLIENT_CONF=$STATE/client
ENV_FILE=$STATE/env.sh

die() { printf 'cluster-up: ERROR: %s\n' "$*" >&2; exit 1; }
on_exit() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    echo "cluster-up: FAILED (rc $rc); what is up stays for inspection: ci/cluster-down.sh removes it (so does the next cluster-up)" >&2
  fi
}
trap on_exit EXIT
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms); T_STEP=""; STEP_NAME=""
end_step() {
  if [ -n "$T_STEP" ]; then printf '    [%6d ms] %s\n' $(( $(now_ms) - T_STEP )) "$STEP_NAME"; fi
}
step() { end_step; STEP_NAME=$*; T_STEP=$(now_ms); printf '==> %s\n' "$*"; }

num() { echo "${1#m}"; }                       # m2 -> 2
addr() { echo "10.79.0.1$(num "$1")"; }        # m2 -> 10.79.0.12
mdir() { echo "$STATE/$1"; }
keeper() { cat "$STATE/$1/keeper.pid"; }
# mem MEMBER CMD...: run CMD inside the member's mount and network namespaces
mem() {
  local m=$1; shift
  nsenter -t "$(keeper "$m")" -m -n -- env PATH="$MEMBER_PATH" "$@"
}
# cl MEMBER ARGS...: the incus client, talking to MEMBER's unix socket
cl() {
  local m=$1; shift
  env -u INCUS_SOCKET INCUS_DIR="$STATE/$m/incus" INCUS_CONF="$CLIENT_CONF" /usr/bin/incus "$@" </dev/null
}
preseed() {   # MEMBER < YAML
  env -u INCUS_SOCKET INCUS_DIR="$STATE/$1/incus" INCUS_CONF="$CLIENT_CONF" /usr/bin/incus admin init --preseed
}
wait_for() {   # TENTHS CMD...: retry CMD every 0.1 s
  local n=$1 _; shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

step "preflight (state $STATE, cache $CACHE)"
[ "$(id -u)" = 0 ] || die "run as root"
for f in "$INCUSD" /usr/bin/incus /usr/sbin/zfs-fuse /usr/sbin/zfs /usr/sbin/zpool /usr/sbin/sshd \
         /usr/bin/ssh /usr/bin/ssh-keygen /usr/bin/nsenter /usr/bin/unshare /usr/sbin/dnsmasq /bin/busybox; do
  [ -x "$f" ] || die "$f missing: run 'ci/bench-up.sh incus' first (it installs incus-base, incus-client, zfs-fuse, openssh-server, busybox-static)"
done
command -v ip >/dev/null || die "ip (iproute2) missing"
for f in /etc/subuid /etc/subgid; do
  grep -Eq '^root:[0-9]+:[0-9]{6,}$' "$f" || die "/etc/subuid and /etc/subgid need a large root range (ci/bench-up.sh incus adds it)"
done

step "tear down leftovers of an earlier run"
bash "$HERE/cluster-down.sh" | sed 's/^/    /'
[ ! -e "$STATE" ] || die "$STATE still exists after cluster-down"

step "state dir, keys, wrappers"
mkdir -p "$STATE"/{bin,mbin,ssh,logs} "$CLIENT_CONF"
chmod 755 "$STATE"
touch "$STATE/.lxops-cluster"        # marks the dir as ours for cluster-down
for m in "${MEMBERS[@]}"; do
  d=$(mdir "$m")
  mkdir -p "$d"/{incus,srv,zfslib,zfsetc,oldsys,devmon,sudoers.d}
  chmod 755 "$d"; chmod 711 "$d/incus"
  cp -a /etc/zfs/. "$d/zfsetc/"
  # lxops runs a member's root commands as `sudo -n CMD` over ssh; sudo's
  # secure_path would skip the zfs shim, so the member's sudoers put it first
  # (bound over /etc/sudoers.d in the member's mount namespace only)
  cp -a /etc/sudoers.d/. "$d/sudoers.d/"
  printf 'Defaults secure_path="%s"\n' "$MEMBER_PATH" > "$d/sudoers.d/lxcl-path"
  chmod 440 "$d/sudoers.d/lxcl-path"
  : > "$d/ssh-commands.log"
done
mkdir -p "$SRV"
ssh-keygen -q -t ed25519 -N '' -C lxops-cluster -f "$STATE/ssh/id_ed25519"
cp "$STATE/ssh/id_ed25519.pub" "$STATE/ssh/authorized_keys"
install -m 755 "$HERE/zfs-shim.sh" "$STATE/mbin/zfs"
# ForceCommand wrapper: log the exact command, then run it with stdin and
# stdout untouched (zfs send | ssh ... zfs receive, rsync over ssh)
cat > "$STATE/bin/lxcl-ssh-log" <<'X'
#!/bin/sh
# lxcl-ssh-log LOGFILE: sshd ForceCommand on a cluster member
printf '%s %s\n' "$(date -u +%FT%T.%3NZ)" "${SSH_ORIGINAL_COMMAND-(login shell)}" >> "$1"
if [ -n "${SSH_ORIGINAL_COMMAND+x}" ]; then exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"; fi
exec /bin/bash   # not a login shell: /etc/profile would reset PATH
X
{
  echo "# ssh client config of the lxops test cluster (ci/cluster-up.sh)"
  for m in "${MEMBERS[@]}"; do
    cat <<CFG
Host lxcl-$m
  HostName $(addr "$m")
  Port 22
  User root
  IdentityFile $STATE/ssh/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile $STATE/ssh/known_hosts
  LogLevel ERROR
  BatchMode yes
  ConnectTimeout 10
  # one connection per member, reused (each host-side step is an ssh call)
  ControlMaster auto
  ControlPath $STATE/ssh/cm-%C
  ControlPersist 30
CFG
  done
} > "$STATE/ssh/ssh_config"
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$STATE/ssh/ssh_config" > "$STATE/bin/ssh"
cat > "$STATE/bin/incus" <<X
#!/bin/sh
# incus client of the lxops test cluster: talks to member m1's unix socket
unset INCUS_SOCKET
export INCUS_DIR=$STATE/m1/incus INCUS_CONF=$CLIENT_CONF
exec /usr/bin/incus "\$@"
X
cat > "$STATE/bin/lxcl-member" <<X
#!/bin/sh
# lxcl-member mN [CMD...]: run CMD (default: a shell) inside cluster member
# mN's mount and network namespaces, with the zfs shim first on PATH
case "\${1:-}" in m1|m2|m3) ;; *) echo "usage: lxcl-member m1|m2|m3 [CMD...]" >&2; exit 2 ;; esac
m=\$1; shift
pid=\$(cat "$STATE/\$m/keeper.pid" 2>/dev/null) && kill -0 "\$pid" 2>/dev/null \\
  || { echo "lxcl-member: member \$m is not up" >&2; exit 1; }
[ \$# -gt 0 ] || set -- /bin/bash
exec nsenter -t "\$pid" -m -n -- env PATH="$MEMBER_PATH" LXOPS_BENCH_REAL_ZFS=/usr/sbin/zfs "\$@"
X
# The keeper runs in new mount + net namespaces (private propagation).
cat > "$STATE/mbin/lxcl-keeper" <<'X'
#!/bin/bash
# lxcl-keeper DIR MEMBER: set up a member's mount namespace, then hold it
set -e
d=$1 m=$2
# drop the copies of the host's other mounts (another job's fuse.zfs,
# incus shmounts, netns pins...): this namespace must pin nothing of theirs
awk '{print $2}' /proc/self/mounts | sort -r | while read -r mp; do
  case "$mp" in /|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*) ;; *) umount -l "$mp" 2>/dev/null || true ;; esac
done
# fresh sysfs for this netns, keeping the cgroup mounts (upstream's recipe)
mount --move /sys "$d/oldsys"
mount -t sysfs sysfs /sys
mount --move "$d/oldsys/fs/cgroup" /sys/fs/cgroup
umount -l "$d/oldsys"
umount -l /proc
mount -t proc proc /proc
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null || true
# private /run (zfs-fuse socket and lock, sshd privsep dir, lxc locks),
# /var/lib/zfs, /etc/zfs, and the member-local /srv/lxcl
mount -t tmpfs -o mode=755,size=64m lxcl-run /run
mkdir -p /run/lock /run/sshd /run/zfs
mount --bind "$d/zfslib" /var/lib/zfs
mount --bind "$d/zfsetc" /etc/zfs
mount --bind "$d/srv" /srv/lxcl
mount --bind "$d/sudoers.d" /etc/sudoers.d
# INCUS_DEVMONITOR_DIR must be a mount point (upstream: a tmpfs), so incusd
# does not watch the host's /dev
mount -t tmpfs -o size=1m lxcl-devmon "$d/devmon"
ip link set lo up
echo $$ > "$d/keeper.pid"
exec -a "lxcl-keeper-$m" sleep infinity
X
chmod 755 "$STATE"/bin/* "$STATE"/mbin/*

step "bridge $BRIDGE $BR_ADDR, member namespaces (keepers), veths"
ip link add "$BRIDGE" type bridge
ip addr add "$BR_ADDR" dev "$BRIDGE"
ip link set "$BRIDGE" up
for m in "${MEMBERS[@]}"; do
  d=$(mdir "$m")
  setsid unshare -m -n --propagation private "$STATE/mbin/lxcl-keeper" "$d" "$m" \
    </dev/null >>"$d/keeper.log" 2>&1 &
done
for m in "${MEMBERS[@]}"; do
  d=$(mdir "$m")
  wait_for 50 test -s "$d/keeper.pid" || die "keeper of $m did not start: $(cat "$d/keeper.log")"
  kp=$(keeper "$m")
  readlink "/proc/$kp/ns/net" > "$d/ns.net"    # cluster-down sweeps what runs in them
  readlink "/proc/$kp/ns/mnt" > "$d/ns.mnt"
  ip link add "lxcl-$m" type veth peer name "lxcl-$m-ns"
  ip link set "lxcl-$m-ns" netns "$kp"
  ip link set "lxcl-$m" master "$BRIDGE" up
  mem "$m" ip link set "lxcl-$m-ns" name eth0
  mem "$m" ip addr add "$(addr "$m")/24" dev eth0
  mem "$m" ip link set eth0 up
  echo "    $m: keeper pid $kp, eth0 $(addr "$m")/24 (no default route), host veth lxcl-$m"
done

step "per member: zfs-fuse, sshd, incusd (started in parallel)"
for m in "${MEMBERS[@]}"; do
  d=$(mdir "$m")
  # zfs-fuse: --disable-page-cache, else stale contents after receive -F
  setsid nsenter -t "$(keeper "$m")" -m -n -- /usr/sbin/zfs-fuse --no-daemon --no-kstat-mount \
    --disable-page-cache >>"$d/zfs-fuse.log" 2>&1 </dev/null &
  echo $! > "$d/zfs-fuse.pid"
  ssh-keygen -q -t ed25519 -N '' -C "lxcl-$m-host" -f "$d/ssh_host_ed25519"
  cat > "$d/sshd_config" <<CFG
ListenAddress $(addr "$m"):22
HostKey $d/ssh_host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $STATE/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv PATH=$MEMBER_PATH LXOPS_BENCH_REAL_ZFS=/usr/sbin/zfs
ForceCommand $STATE/bin/lxcl-ssh-log $d/ssh-commands.log
CFG
  (
    ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"   # Debian init: 1048576
    exec setsid nsenter -t "$(keeper "$m")" -m -n -- env -i PATH="$DAEMON_PATH" HOME=/root LANG=C.UTF-8 \
      INCUS_DIR="$d/incus" INCUS_SKIP_INSTANCE_TYPES=true INCUS_DEVMONITOR_DIR="$d/devmon" \
      "$INCUSD" --logfile "$d/incus/incus.log"
  ) >>"$d/incusd.out" 2>&1 </dev/null &
  echo $! > "$d/incusd.pid"
done
for m in "${MEMBERS[@]}"; do
  d=$(mdir "$m")
  wait_for 100 mem "$m" zpool list || die "$m: zfs-fuse does not answer (see $d/zfs-fuse.log)"
  truncate -s "$ZSIZE" "$d/lxcl.img"
  mem "$m" zpool create "$ZPOOL" "$d/lxcl.img"
  mem "$m" /usr/sbin/sshd -f "$d/sshd_config" -E "$d/sshd.log" || die "$m: sshd failed (see $d/sshd.log)"
  wait_for 50 test -s "$d/sshd.pid" || die "$m: sshd wrote no pid file"
  ready=0
  for _ in $(seq 60); do
    kill -0 "$(cat "$d/incusd.pid")" 2>/dev/null || break
    if cl "$m" admin waitready --timeout=1 >/dev/null 2>&1; then ready=1; break; fi
  done
  [ "$ready" = 1 ] || { tail -20 "$d/incus/incus.log" "$d/incusd.out" >&2; die "$m: incusd not ready"; }
  echo "    $m: zfs-fuse $(cat "$d/zfs-fuse.pid") (pool $ZPOOL at $(mem "$m" zfs get -H -o value mountpoint "$ZPOOL")), sshd $(cat "$d/sshd.pid"), incusd $(cat "$d/incusd.pid")"
done

step "bootstrap m1 (preseed: pool data, network $NET $NET_ADDR, default profile)"
preseed m1 <<PRESEED
config:
  core.https_address: $(addr m1):8443
  images.auto_update_interval: "0"
storage_pools:
- name: data
  driver: dir
networks:
- name: $NET
  type: bridge
  config:
    ipv4.address: $NET_ADDR
    ipv4.nat: "false"
    ipv6.address: none
    raw.dnsmasq: no-resolv
profiles:
- name: default
  devices:
    root: {path: /, pool: data, type: disk}
    eth0: {name: eth0, network: $NET, type: nic}
cluster:
  server_name: m1
  enabled: true
PRESEED

for m in m2 m3; do
  step "join $m"
  token=$(cl m1 cluster add "$m" --quiet)
  preseed "$m" <<PRESEED
cluster:
  enabled: true
  server_address: $(addr "$m"):8443
  cluster_token: $token
  member_config:
  - entity: storage-pool
    name: data
    key: source
    value: ""
PRESEED
done

step "cluster members"
list=$(cl m1 cluster list -f csv -c nus)
while read -r l; do echo "    $l"; done <<<"$list"
[ "$(grep -c ',ONLINE$' <<<"$list")" = 3 ] || die "not 3 ONLINE members"

step "image tiny (cache $CACHE)"
key=$( { cat "$HERE/image-tiny.sh" "$HERE"/tiny-standins/*; dpkg-query -W -f='${Version}' busybox-static; } \
       | sha256sum | cut -c1-16)     # the same key as bench-up.sh's ensure_image
dir=$CACHE/tiny-$key
if [ -s "$dir/rootfs.tar.gz" ] && [ -s "$dir/metadata.tar.gz" ]; then
  echo "    cached: $dir"
else
  mkdir -p "$CACHE"
  tmp=$CACHE/.build-tiny-$$
  rm -rf "$tmp"
  bash "$HERE/image-tiny.sh" "$tmp" || { rm -rf "$tmp"; die "building tiny failed"; }
  rm -rf "$dir"; mv "$tmp" "$dir"
  echo "    built: $dir"
fi
TINY_FP=$(cat "$dir/metadata.tar.gz" "$dir/rootfs.tar.gz" | sha256sum | cut -d' ' -f1)
cl m1 image import -q "$dir/metadata.tar.gz" "$dir/rootfs.tar.gz" --alias tiny
[ "$(cl m1 image info tiny | awk '/^Fingerprint:/ {print $2}')" = "$TINY_FP" ] || die "tiny: fingerprint mismatch"
echo "    imported 'tiny' (${TINY_FP:0:12})"

if [ "$SMOKE" = 1 ]; then
  step "smoke: launch tiny on each member, location, DHCP address, exec, delete"
  for m in "${MEMBERS[@]}"; do
    cl m1 launch -q tiny "lxcl-smoke-$m" --target "$m" &
  done
  fail=0
  for _ in "${MEMBERS[@]}"; do wait -n || fail=1; done
  [ "$fail" = 0 ] || die "smoke: launch failed"
  for m in "${MEMBERS[@]}"; do
    loc=$(cl m1 list -c nL -f csv "lxcl-smoke-$m" | awk -F, -v n="lxcl-smoke-$m" '$1 == n {print $2}')
    [ "$loc" = "$m" ] || die "smoke: lxcl-smoke-$m is on '$loc', not $m"
  done
  for m in "${MEMBERS[@]}"; do
    ip4=""
    for _ in $(seq 200); do
      ip4=$(cl m1 list -c n4 -f csv "lxcl-smoke-$m" | awk -F, -v n="lxcl-smoke-$m" '$1 == n {print $2}' | cut -d' ' -f1)
      [ -n "$ip4" ] && break; sleep 0.1
    done
    [ -n "$ip4" ] || die "smoke: lxcl-smoke-$m got no IPv4 address within 20 s"
    out=$(cl m1 exec "lxcl-smoke-$m" -- cat /etc/alpine-release) || die "smoke: exec on $m failed"
    [ "$out" = 3.19.1 ] || die "smoke: exec on $m said '$out'"
    echo "    lxcl-smoke-$m: location $m, $ip4, exec ok"
  done
  cl m1 delete -f lxcl-smoke-m1 lxcl-smoke-m2 lxcl-smoke-m3

  step "smoke: per member over ssh: zfs create/destroy, /srv/lxcl, the command log"
  for m in "${MEMBERS[@]}"; do
    tag="smoke-$m-$$"
    out=$("$STATE/bin/ssh" "lxcl-$m" "zfs create $ZPOOL/smoke && zfs destroy $ZPOOL/smoke && ls -a /srv/lxcl >/dev/null && touch /srv/lxcl/.$tag && command -v zfs && ip -4 -o addr show dev eth0 # $tag") \
      || die "smoke: ssh lxcl-$m failed"
    grep -qx "$STATE/mbin/zfs" <<<"$out" || die "smoke: ssh lxcl-$m does not run the zfs shim first: $out"
    grep -q " $(addr "$m")/24 " <<<"$out" || die "smoke: ssh lxcl-$m reached the wrong namespace: $out"
    [ -e "$(mdir "$m")/srv/.$tag" ] || die "smoke: /srv/lxcl on $m is not $(mdir "$m")/srv"
    rm -f "$(mdir "$m")/srv/.$tag"
    for o in "${MEMBERS[@]}"; do
      if [ "$o" = "$m" ]; then
        grep -qF "# $tag" "$(mdir "$o")/ssh-commands.log" || die "smoke: command missing from $o/ssh-commands.log"
      else
        ! grep -qF "# $tag" "$(mdir "$o")/ssh-commands.log" || die "smoke: command of $m logged on $o"
      fi
    done
    [ -z "$(ls -A "$(mdir "$m")/srv")" ] || die "smoke: $(mdir "$m")/srv is not empty"
    echo "    lxcl-$m: ok"
  done
  # the smoke test's ssh lines are not part of what the tests will check
  for m in "${MEMBERS[@]}"; do : > "$(mdir "$m")/ssh-commands.log"; done
fi

step "write $ENV_FILE"
{
  echo "# lxops test cluster - written by ci/cluster-up.sh $(date -u +%FT%TZ); ci/cluster-down.sh removes it"
  echo "export LXOPS_CLUSTER_DIR=$STATE"
  echo "export LXOPS_CLUSTER_MEMBERS=\"${MEMBERS[*]}\""
  echo "export LXOPS_CLUSTER_CLI=incus"
  echo "export LXOPS_CLUSTER_ZPOOL=$ZPOOL"
  echo "export LXOPS_CLUSTER_ZPOOL_MOUNT=/$ZPOOL"
  echo "export LXOPS_CLUSTER_SRV=$SRV"
  echo "export LXOPS_CLUSTER_NETWORK=$NET"
  echo "export LXOPS_CLUSTER_NETWORK_ADDR=$NET_ADDR"
  echo "export LXOPS_CLUSTER_STORAGE_POOL=data"
  echo "export LXOPS_CLUSTER_BRIDGE=$BRIDGE"
  echo "export LXOPS_CLUSTER_IMAGES=tiny"
  echo "export LXOPS_CLUSTER_TINY_FINGERPRINT=$TINY_FP"
  for m in "${MEMBERS[@]}"; do
    echo "export LXOPS_CLUSTER_SSH_$m=lxcl-$m"
    echo "export LXOPS_CLUSTER_ADDR_$m=$(addr "$m")"
    echo "export LXOPS_CLUSTER_KEEPER_$m=$(keeper "$m")"
    echo "export LXOPS_CLUSTER_INCUS_DIR_$m=$(mdir "$m")/incus"
  done
  echo "export INCUS_DIR=$STATE/m1/incus"
  echo "export INCUS_CONF=$CLIENT_CONF"
  echo "unset INCUS_SOCKET"
  echo "export PATH=\"$STATE/bin:\$PATH\""
} > "$ENV_FILE.tmp"
mv "$ENV_FILE.tmp" "$ENV_FILE"
sed 's/^/    /' "$ENV_FILE"
end_step
printf '==> cluster up in %d ms\n' $(( $(now_ms) - T0 ))
