#!/usr/bin/env bash
# perf.sh - what lxops costs on top of the server's work, on the real bench
# (run ci/bench-up.sh first; it fails when the bench is not up). Prints:
#
#   P2  launch --execute and rebuild --execute --yes of one tiny container against
#       a hand-written script of the same incus/lxc and zfs calls, run
#       interleaved, RUNS times each (median and ratio);
#   P3  a rebuild's downtime (stop -> IPv4 address, as lxops prints it)
#       against a bare stop + delete + launch -> IPv4, interleaved;
#   P5  16 tiny rebuilds with -j 4 against -j 1, and where the time of one
#       rebuild goes (per step, from the -j 1 run).
#
# All waits for an address poll 4 times a second, as lxops does. Nothing is
# asserted: the figures go into the README's Speed section.
#
# Knobs: PERF_RUNS (default 5), PERF_FLEET (default 16), PERF_ONLY (p2, p3
# or p5 to run one part), LXOPS (default target/release/lxops, built if
# missing).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${LXOPS_BENCH_DIR:-/var/tmp/lxops-bench}
if [ ! -f "$STATE/env.sh" ]; then
  echo "perf.sh: the bench is not up ($STATE/env.sh is missing): run ci/bench-up.sh lxd|incus" >&2
  exit 1
fi
# shellcheck disable=SC1091
source "$STATE/env.sh"
CLI=$LXOPS_BENCH_CLI
CREATE=create
[ "$CLI" = lxc ] && CREATE=init # LXD 5.0 has no `lxc create`
POOL=$LXOPS_BENCH_ZPOOL
RUNS=${PERF_RUNS:-5}
FLEET=${PERF_FLEET:-16}
ONLY=${PERF_ONLY:-all}
if [ -z "${LXOPS:-}" ]; then
  cargo build --release --quiet
  LXOPS=$PWD/target/release/lxops
fi
export LXOPS_BACKEND=$LXOPS_BENCH_BACKEND
WORK=$(mktemp -d /tmp/lxops-perf.XXXXXX)
OWNER=1000000:1000000
ROOT=$POOL/perf$$

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# wait_ipv4 NAME: polls the instance's IPv4 address 4 times a second (60 s at most).
wait_ipv4() {
  local i
  for ((i = 0; i < 240; i++)); do
    if "$CLI" list --format csv --columns 4 "$1" | grep -q '^[0-9]'; then return 0; fi
    sleep 0.25
  done
  echo "perf.sh: no IPv4 address for $1" >&2
  return 1
}

cleanup() {
  local n
  for n in $("$CLI" list --format csv --columns n | grep "^pf$$-" || true); do
    "$CLI" delete --force "$n" >/dev/null 2>&1 || true
  done
  for n in $("$CLI" profile list --format csv | cut -d, -f1 | grep "^pf$$-" || true); do
    "$CLI" profile delete "$n" >/dev/null 2>&1 || true
  done
  zfs destroy -r "$ROOT" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
zfs create -p "$ROOT"

# The config of one tiny instance: a ZFS filesystem, one device.
config() {
  cat <<EOF
#lxops-v1
ostype: alpine
image: tiny
profiles: [default]
device-owner: $OWNER
filesystems:
  data:
    pattern: $ROOT/(instance)
devices:
  home:
    path: /home/user
    filesystem: data
EOF
}
config >"$WORK/perf.yaml"
profile_yaml() {
  printf 'config: {}\ndescription: hand\ndevices:\n  home:\n    path: /home/user\n    source: /%s/%s/home\n    type: disk\n' "$ROOT" "$1"
}

# The hand-written launch: what an operator would type for the same result.
hand_launch() {
  local n=$1
  zfs create -p "$ROOT/$n"
  chown "$OWNER" "/$ROOT/$n"
  mkdir -p "/$ROOT/$n/home"
  chown "$OWNER" "/$ROOT/$n/home"
  "$CLI" profile create "$n.lxops" >/dev/null
  profile_yaml "$n" | "$CLI" profile edit "$n.lxops"
  "$CLI" "$CREATE" tiny "$n" -p default -p "$n.lxops" >/dev/null
  "$CLI" start "$n"
  wait_ipv4 "$n"
}

# The hand-written rebuild: snapshot, new instance prepared with the old
# one's MAC, stop, swap names, start, address, delete the old one. Prints
# the downtime (stop -> IPv4) on fd 3.
hand_rebuild() {
  local n=$1 mac t0
  mac=$("$CLI" config get "$n" volatile.eth0.hwaddr)
  zfs snapshot "$ROOT/$n@hand-$(date +%s%N)"
  profile_yaml "$n" | "$CLI" profile edit "$n.lxops"
  "$CLI" "$CREATE" tiny "$n-new" -p default -p "$n.lxops" >/dev/null
  "$CLI" config set "$n-new" "volatile.eth0.hwaddr=$mac"
  t0=$(now)
  "$CLI" stop "$n"
  "$CLI" rename "$n" "$n-old"
  "$CLI" config set "$n-old" volatile.eth0.hwaddr=
  "$CLI" rename "$n-new" "$n"
  "$CLI" start "$n"
  wait_ipv4 "$n"
  secs "$t0" "$(now)" >&3
  "$CLI" delete "$n-old"
}

# The bare relaunch: stop + delete + launch with the same profiles -> IPv4.
bare_relaunch() {
  local n=$1 t0
  t0=$(now)
  "$CLI" stop "$n"
  "$CLI" delete "$n"
  "$CLI" launch -q tiny "$n" -p default -p "$n.lxops" >/dev/null
  wait_ipv4 "$n"
  secs "$t0" "$(now)"
}

forget() { # forget NAME: the instance, its profile and its data go
  "$CLI" delete --force "$1" >/dev/null 2>&1 || true
  "$CLI" profile delete "$1.lxops" >/dev/null 2>&1 || true
  zfs destroy -r "$ROOT/$1" >/dev/null 2>&1 || true
}

timed() { # timed CMD...: runs it quietly, prints its wall time
  local t0
  t0=$(now)
  "$@" >>"$WORK/out.log" 2>&1 || { echo "perf.sh: failed: $*" >&2; tail -20 "$WORK/out.log" >&2; exit 1; }
  secs "$t0" "$(now)"
}

lxops_downtime() { # from lxops's stderr in out.log: the last downtime line
  grep -a '^downtime ' "$WORK/out.log" | tail -1 | awk '{ print $3 }'
}

echo "== lxops perf on $LXOPS_BENCH_BACKEND ($CLI), $(nproc) cores, $RUNS runs each, $(date -u +%FT%TZ)"
if [ "$ONLY" = all ] || [ "$ONLY" = p2 ] || [ "$ONLY" = p3 ]; then
  : >"$WORK/l.lx" ; : >"$WORK/l.hand"; : >"$WORK/r.lx"; : >"$WORK/r.hand"
  : >"$WORK/d.lx"; : >"$WORK/d.hand"; : >"$WORK/d.bare"
  for ((i = 1; i <= RUNS; i++)); do
    a=pf$$-a$i b=pf$$-b$i
    # P2 launch, interleaved (the order alternates)
    if ((i % 2)); then
      timed "$LXOPS" launch --execute -n "$a" "$WORK/perf.yaml" >>"$WORK/l.lx"
      timed hand_launch "$b" >>"$WORK/l.hand"
    else
      timed hand_launch "$b" >>"$WORK/l.hand"
      timed "$LXOPS" launch --execute -n "$a" "$WORK/perf.yaml" >>"$WORK/l.lx"
    fi
    # P2 rebuild and P3 downtime
    sleep 1 # snapshot names have a one-second resolution
    timed "$LXOPS" rebuild --execute --yes -n "$a" "$WORK/perf.yaml" >>"$WORK/r.lx"
    lxops_downtime >>"$WORK/d.lx"
    timed hand_rebuild "$b" 3>>"$WORK/d.hand" >>"$WORK/r.hand"
    bare_relaunch "$b" 2>>"$WORK/out.log" >>"$WORK/d.bare"
    forget "$a"
    forget "$b"
  done
  ml=$(median <"$WORK/l.lx") mh=$(median <"$WORK/l.hand")
  rl=$(median <"$WORK/r.lx") rh=$(median <"$WORK/r.hand")
  dl=$(median <"$WORK/d.lx") dh=$(median <"$WORK/d.hand") db=$(median <"$WORK/d.bare")
  echo "P2 launch:  lxops --execute median $ml s, hand-written $mh s: ratio $(ratio "$ml" "$mh") (target <= 1.10)"
  echo "            runs: lxops $(tr '\n' ' ' <"$WORK/l.lx")| hand $(tr '\n' ' ' <"$WORK/l.hand")"
  echo "P2 rebuild: lxops --execute median $rl s, hand-written $rh s: ratio $(ratio "$rl" "$rh") (target <= 1.10)"
  echo "            runs: lxops $(tr '\n' ' ' <"$WORK/r.lx")| hand $(tr '\n' ' ' <"$WORK/r.hand")"
  echo "P3 downtime (stop -> IPv4): lxops rebuild median $dl s, hand-written rebuild $dh s, bare stop+delete+launch $db s"
  echo "            lxops / bare relaunch: $(ratio "$dl" "$db") (target <= 0.85)"
  echo "            runs: lxops $(tr '\n' ' ' <"$WORK/d.lx")| hand $(tr '\n' ' ' <"$WORK/d.hand")| bare $(tr '\n' ' ' <"$WORK/d.bare")"
fi

if [ "$ONLY" = all ] || [ "$ONLY" = p5 ]; then
  cfgs=()
  for ((i = 1; i <= FLEET; i++)); do
    config >"$WORK/pf$$-f$i.yaml"
    cfgs+=("$WORK/pf$$-f$i.yaml")
  done
  : >"$WORK/out.log"
  t=$(timed "$LXOPS" launch --execute -j 4 "${cfgs[@]}")
  echo "P5 fleet: $FLEET tiny launches with -j 4: $t s"
  sleep 1
  : >"$WORK/out.log"
  j1=$(timed "$LXOPS" rebuild --execute --yes -j 1 "${cfgs[@]}")
  cp "$WORK/out.log" "$WORK/j1.log"
  sleep 1
  j4=$(timed "$LXOPS" rebuild --execute --yes -j 4 "${cfgs[@]}")
  sleep 1
  j2=$(timed "$LXOPS" rebuild --execute --yes -j 2 "${cfgs[@]}")
  echo "P5 fleet: $FLEET tiny rebuilds: -j 1 $j1 s, -j 2 $j2 s, -j 4 $j4 s: -j 4 is $(ratio "$j1" "$j4")x faster (target >= 2)"
  # What the server allows: the hand-written rebuild of the same instances,
  # one at a time and four at once.
  export CLI CREATE ROOT OWNER
  export -f hand_rebuild wait_ipv4 profile_yaml now secs
  names=()
  for ((i = 1; i <= FLEET; i++)); do names+=("pf$$-f$i"); done
  # shellcheck disable=SC2016 # $1 is the inner shell's
  hand_all() { printf '%s\n' "${names[@]}" | xargs -P "$1" -I{} bash -c 'hand_rebuild "$1" 3>/dev/null' _ {}; }
  h1=$(timed hand_all 1)
  h4=$(timed hand_all 4)
  echo "P5 server ceiling: the hand-written rebuilds of the same $FLEET: one at a time $h1 s, four at once $h4 s: $(ratio "$h1" "$h4")x"
  # Where one rebuild's time goes: per step number, summed over the fleet (-j 1).
  echo "P5 where the time goes (-j 1, seconds summed over $FLEET instances, by step):"
  awk '
    /^\[[^]]*\] \[[0-9]+\/[0-9]+\] / {
      line = $0; sub(/^\[[^]]*\] /, "", line)
      k = line; sub(/\].*/, "", k); sub(/^\[/, "", k); sub(/\/.*/, "", k)
      title = line; sub(/^\[[^]]*\] /, "", title)
      if (!(k in name)) name[k] = title
      cur = k; next
    }
    # (the progress output of a command may precede "ok" on its line)
    / ok [0-9.]+ s$/ { sum[cur] += $(NF - 1) }
    END { for (k in sum) printf "%6.2f s  step %2d  %s\n", sum[k], k, name[k] }
  ' "$WORK/j1.log" | sort -k4 -n
fi
