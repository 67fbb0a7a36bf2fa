#!/usr/bin/env bash
# bench-down.sh [all|lxd|incus|zfs] - stop what ci/bench-up.sh started (the
# managers, the sshd, zfs-fuse), and
# only that: the processes whose PIDs it recorded in $LXOPS_BENCH_DIR/pids,
# each checked against its expected executable before any signal. Removes
# env.sh first, so the real test tier sees the bench as down. Packages, the
# managers' state, the zfs vdev and the image cache stay (next bench-up is
# quick). Idempotent.
set -uo pipefail
WHAT=${1:-all}
STATE=${LXOPS_BENCH_DIR:-/var/tmp/lxops-bench}
PIDS=$STATE/pids
say() { printf '==> %s\n' "$*"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms)

our_pid() {   # NAME EXE -> prints the pid if pids/NAME.pid is alive and runs EXE
  local f=$PIDS/$1.pid pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  kill -0 "$pid" 2>/dev/null || return 1
  [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$2")" ] || return 1
  echo "$pid"
}
wait_gone() {   # PID SECONDS
  local _
  for _ in $(seq $(( $2 * 10 ))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

stop_manager() {
  local name=$1 exe cli pid
  case "$name" in
    lxd)   exe=/usr/bin/lxd;              cli=lxc ;;
    incus) exe=/usr/libexec/incus/incusd; cli=incus ;;
  esac
  if ! pid=$(our_pid "$name" "$exe"); then
    say "$name: not running under the bench, nothing to do"
    rm -f "$PIDS/$name.pid"
    return 0
  fi
  say "$name: force-stop all instances"
  timeout 120 "$cli" stop --all --force </dev/null >/dev/null 2>&1 || true
  say "$name: shutdown (pid $pid)"
  if [ "$name" = lxd ]; then timeout 120 lxd shutdown </dev/null || true
  else timeout 120 incus admin shutdown </dev/null || true; fi
  if ! wait_gone "$pid" 30; then
    say "$name: still alive, SIGTERM $pid"; kill "$pid" 2>/dev/null
    wait_gone "$pid" 15 || { say "$name: SIGKILL $pid"; kill -9 "$pid" 2>/dev/null; }
  fi
  rm -f "$PIDS/$name.pid"
  nft delete table inet "$name" 2>/dev/null || true   # left empty by the daemon
  say "$name: stopped"
}

stop_zfs() {
  local pid pool m
  if ! pid=$(our_pid zfs-fuse /usr/sbin/zfs-fuse); then
    say "zfs-fuse: not running under the bench, nothing to do"
    rm -f "$PIDS/zfs-fuse.pid"
    return 0
  fi
  say "zfs-fuse: unmount all, export pools"
  for _ in 1 2 3 4 5; do zfs umount -a && break; sleep 0.5; done
  for pool in $(zpool list -H -o name 2>/dev/null); do
    for _ in 1 2 3 4 5; do zpool export "$pool" && break; sleep 0.5; done
  done
  say "zfs-fuse: SIGTERM $pid (exits in about 5 s)"
  kill "$pid" 2>/dev/null
  wait_gone "$pid" 20 || { say "zfs-fuse: SIGKILL $pid"; kill -9 "$pid" 2>/dev/null; wait_gone "$pid" 5; }
  rm -f "$PIDS/zfs-fuse.pid"
  awk '$3 == "fuse.zfs" {print $2}' /proc/mounts | sort -r | while read -r m; do
    say "zfs-fuse: lazy-unmount leftover $m"; umount -l "$m" || true
  done
  say "zfs-fuse: stopped"
}

stop_sshd() {
  local pid
  if ! pid=$(our_pid sshd /usr/sbin/sshd); then
    say "sshd: not running under the bench, nothing to do"
    rm -f "$PIDS/sshd.pid"
    return 0
  fi
  say "sshd: SIGTERM $pid"
  kill "$pid" 2>/dev/null
  wait_gone "$pid" 10 || { say "sshd: SIGKILL $pid"; kill -9 "$pid" 2>/dev/null; }
  rm -f "$PIDS/sshd.pid"
  say "sshd: stopped"
}

rm -f "$STATE/env.sh"
case "$WHAT" in
  all)       stop_manager lxd; stop_manager incus; stop_sshd; stop_zfs ;;
  lxd|incus) stop_manager "$WHAT" ;;
  zfs)       stop_zfs ;;
  *) echo "usage: $0 [all|lxd|incus|zfs]" >&2; exit 2 ;;
esac
say "bench down ($WHAT) in $(( $(now_ms) - T0 )) ms"
