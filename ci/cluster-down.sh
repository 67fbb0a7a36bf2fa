#!/usr/bin/env bash
# cluster-down.sh - tear down the test cluster ci/cluster-up.sh brought up,
# and only that: the processes whose PIDs it recorded under
# /var/tmp/lxops-cluster/mN/ (each checked against its executable before any
# signal), then whatever still runs inside those members' namespaces (only
# cluster-up's processes and their children can be there), the host veths
# lxcl-mN, the bridge lxclbr0 and the state dir. The image cache
# (/var/cache/lxops-bench) stays. Removes env.sh first, so the cluster tier
# sees the cluster as down. Idempotent: with nothing up it says so.
set -uo pipefail
STATE=/var/tmp/lxops-cluster
MEMBERS=(m1 m2 m3)
BRIDGE=lxclbr0
SRV=/srv/lxcl
INCUSD=/usr/libexec/incus/incusd
say() { printf "==> [%6d ms] %s\n" $(( $(now_ms) - T0 )) "$*"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms)
STOPPED=()

# ours MEMBER NAME EXE -> prints the pid if mN/NAME.pid is alive and runs EXE
ours() {
  local f=$STATE/$1/$2.pid pid
  [ -s "$f" ] || return 1
  pid=$(tr -dc 0-9 < "$f")
  [ -n "$pid" ] && alive "$pid" || return 1
  [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$3")" ] || return 1
  echo "$pid"
}
# keeper MEMBER -> pid of the member's keeper (sleep, argv0 lxcl-keeper-mN)
keeper() {
  local pid
  pid=$(ours "$1" keeper /usr/bin/sleep) || return 1
  [ "$(tr '\0' ' ' < "/proc/$pid/cmdline" | cut -d' ' -f1)" = "lxcl-keeper-$1" ] || return 1
  echo "$pid"
}
alive() {       # PID: exists and is not a zombie (PID 1 here reaps orphans late)
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}
wait_gone() {   # PID SECONDS
  local _
  for _ in $(seq $(( $2 * 10 ))); do alive "$1" || return 0; sleep 0.1; done
  return 1
}
stop_pid() {    # LABEL PID GRACE-SECONDS: SIGTERM, then SIGKILL after GRACE
  kill "$2" 2>/dev/null
  if ! wait_gone "$2" "$3"; then say "$1: SIGKILL $2"; kill -9 "$2" 2>/dev/null; wait_gone "$2" 5; fi
  STOPPED+=("$1($2)")
}
cl() {   # SECONDS MEMBER ARGS...: the incus client on MEMBER's socket, with a timeout
  local t=$1 m=$2; shift 2
  timeout "$t" env -u INCUS_SOCKET INCUS_DIR="$STATE/$m/incus" INCUS_CONF="$STATE/client" \
    /usr/bin/incus "$@" </dev/null
}

anything=0
[ -e "$STATE" ] && anything=1
ip link show "$BRIDGE" >/dev/null 2>&1 && anything=1
for m in "${MEMBERS[@]}"; do ip link show "lxcl-$m" >/dev/null 2>&1 && anything=1; done
if [ "$anything" = 0 ]; then
  say "cluster: nothing up (no $STATE, no $BRIDGE, no lxcl-mN veths)"
  exit 0
fi
if [ -e "$STATE" ] && [ ! -e "$STATE/.lxops-cluster" ]; then
  say "ERROR: $STATE exists but has no .lxops-cluster marker: not touching it" >&2
  exit 1
fi
rm -f "$STATE/env.sh"

# 1. instances: stop them all through a live member (its incusd forwards)
live=""
for m in "${MEMBERS[@]}"; do
  if ours "$m" incusd "$INCUSD" >/dev/null && [ -S "$STATE/$m/incus/unix.socket" ]; then live=$m; break; fi
done
if [ -n "$live" ]; then
  inst=$(cl 20 "$live" list --all-projects -c en -f csv 2>/dev/null)
  say "instances: $(grep -c . <<<"$inst"); force-stop them (via $live)"
  while read -r project; do
    [ -n "$project" ] || continue
    # shellcheck disable=SC2046  # instance names have no blanks
    cl 90 "$live" stop --force --project "$project" $(awk -F, -v p="$project" '$1 == p {print $2}' <<<"$inst") \
      >/dev/null 2>&1 || say "instances: stop in project $project reported an error (continuing)"
  done < <(cut -d, -f1 <<<"$inst" | sort -u)
fi

# 2. incusd: `incus admin shutdown` member by member, m1 (bootstrap,
#    usually the leader) last so the others keep quorum (shutting down all
#    three at once hangs for half a minute); then signals
for m in m3 m2 m1; do
  if pid=$(ours "$m" incusd "$INCUSD"); then
    say "incusd $m: shutdown (pid $pid)"
    cl 30 "$m" admin shutdown >/dev/null 2>&1 || say "incusd $m: shutdown failed or timed out"
    if ! wait_gone "$pid" 10; then say "incusd $m: still alive, SIGTERM $pid"; fi
    stop_pid "incusd-$m" "$pid" 10
  fi
done

# 3. sshd and zfs-fuse per member (first the ssh client's shared
#    connections to them: ControlPersist keeps one per member for a while)
for m in "${MEMBERS[@]}"; do
  if [ -f "$STATE/ssh/ssh_config" ]; then
    /usr/bin/ssh -F "$STATE/ssh/ssh_config" -O exit "lxcl-$m" >/dev/null 2>&1 && say "ssh: closed the shared connection to $m"
  fi
done
for m in "${MEMBERS[@]}"; do
  if pid=$(ours "$m" sshd /usr/sbin/sshd); then stop_pid "sshd-$m" "$pid" 5; fi
done
say "sshd: stopped; zfs-fuse: export pool lxcl, stop"
zpids=()
for m in "${MEMBERS[@]}"; do
  if pid=$(ours "$m" zfs-fuse /usr/sbin/zfs-fuse); then
    kp=$(keeper "$m") || kp=""
    if [ -n "$kp" ] && timeout 20 nsenter -t "$kp" -m -n -- /usr/sbin/zpool export -f lxcl >/dev/null 2>&1; then
      # pool exported, nothing left to flush: SIGTERM would take about 5 s
      kill -9 "$pid" 2>/dev/null; wait_gone "$pid" 5
      STOPPED+=("zfs-fuse-$m($pid)")
    else
      say "zfs-fuse $m: export of lxcl failed (the vdev is deleted anyway): SIGTERM"
      kill "$pid" 2>/dev/null   # about 5 s to exit: all three at once
      zpids+=("$m:$pid")
    fi
  fi
done
for mp in "${zpids[@]}"; do
  m=${mp%%:*} pid=${mp#*:}
  stop_pid "zfs-fuse-$m" "$pid" 15
done

# 4. anything else inside a member's namespaces, and its descendants
#    (lxc monitors and container processes of an incusd that did not stop
#    them, lxcl-member/ssh sessions): started by cluster-up or the tests
sweep() {
  local m=$1 netns mntns pid set=" " added=1 kp
  kp=$(keeper "$m") || kp=""
  netns=$(cat "$STATE/$m/ns.net" 2>/dev/null) || netns=""
  mntns=$(cat "$STATE/$m/ns.mnt" 2>/dev/null) || mntns=""
  [ -n "$netns$mntns" ] || return 0
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$pid" = "$kp" ] && continue
    if { [ -n "$netns" ] && [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$netns" ]; } ||
       { [ -n "$mntns" ] && [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mntns" ]; }; then
      set+="$pid "
    fi
  done
  [ "$set" != " " ] || return 0
  while [ "$added" = 1 ]; do
    added=0
    while read -r pid ppid; do
      case "$set" in *" $ppid "*) case "$set" in *" $pid "*) ;; *) set+="$pid "; added=1 ;; esac ;; esac
    done < <(ps -e -o pid=,ppid=)
  done
  for pid in $set; do
    say "$m: still in the namespace: $pid ($(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-80)): SIGKILL"
    kill -9 "$pid" 2>/dev/null
    STOPPED+=("leftover-$m($pid)")
  done
}
say "sweep the member namespaces for leftovers"
for m in "${MEMBERS[@]}"; do sweep "$m"; done
say "keepers, veths, bridge, state"

# 5. keepers (their end frees the member namespaces and mounts), links
for m in "${MEMBERS[@]}"; do
  if pid=$(keeper "$m"); then stop_pid "keeper-$m" "$pid" 5; fi
done
for m in "${MEMBERS[@]}"; do
  if ip link show "lxcl-$m" >/dev/null 2>&1; then ip link del "lxcl-$m" 2>/dev/null && STOPPED+=("veth-lxcl-$m"); fi
done
if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE" && STOPPED+=("bridge-$BRIDGE"); fi

# 6. state (no host mount may remain under it), mountpoint dirs
if grep -q " $STATE/" /proc/mounts; then
  awk -v s="$STATE/" 'index($2, s) == 1 {print $2}' /proc/mounts | sort -r | while read -r mp; do
    say "lazy-unmount $mp"; umount -l "$mp"
  done
fi
if [ -e "$STATE" ]; then rm -rf "$STATE" && STOPPED+=("state-dir"); fi
for d in "$SRV" /lxcl; do
  if [ -d "$d" ] && ! mountpoint -q "$d"; then rmdir "$d" 2>/dev/null || true; fi
done

if [ ${#STOPPED[@]} -eq 0 ]; then
  say "cluster: nothing was running"
else
  say "stopped/removed: ${STOPPED[*]}"
fi
say "cluster down in $(( $(now_ms) - T0 )) ms"
