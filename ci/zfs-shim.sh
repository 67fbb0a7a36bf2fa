#!/bin/bash
# zfs-shim.sh - installed by bench-up.sh as $LXOPS_BENCH_DIR/bin/zfs, first on
# the bench PATH. zfs-fuse unmounts asynchronously, so `destroy`/`rename` of
# a MOUNTED dataset fail with "dataset is busy" every time (OpenZFS does not),
# and a failed rename mounts the source again, so retrying alone never ends.
# For destroy/rename/promote/rollback this shim unmounts the affected tree
# (deepest first), waits a moment, runs the real command (retrying while
# zfs-fuse says "busy"), then mounts a renamed tree again as OpenZFS would.
# Every other subcommand goes straight to the real zfs.
REAL=${LXOPS_BENCH_REAL_ZFS:-/usr/sbin/zfs}
case "${1:-}" in
  destroy|rename|promote|rollback) ;;
  *) exec "$REAL" "$@" ;;
esac

prop() { "$REAL" get -H -o value "$1" "$2" 2>/dev/null; }
tree() { "$REAL" list -H -o name -t filesystem -r "$1" 2>/dev/null; }
unmount_tree() {
  local ds any=0
  for ds in $(tree "$1" | sort -r); do
    if [ "$(prop mounted "$ds")" = yes ]; then "$REAL" umount "$ds" 2>/dev/null; any=1; fi
  done
  if [ "$any" = 1 ]; then sleep 0.3; fi
}
mount_tree() {
  local ds
  for ds in $(tree "$1"); do
    [ "$(prop canmount "$ds")" = on ] || continue
    case "$(prop mountpoint "$ds")" in none|legacy) continue ;; esac
    [ "$(prop mounted "$ds")" = yes ] || "$REAL" mount "$ds"
  done
}

argv=("$@")
last=${argv[$#-1]}
before_last=""
if [ $# -ge 3 ]; then before_last=${argv[$#-2]}; fi
mount_after=""        # rename: mount the new name afterwards
mount_if_failed=""    # destroy refused (children, clones): mount it back
case "$1" in
  rename)
    case "$before_last" in
      ""|-*|*@*) ;;
      *) if [ "$(prop mounted "$before_last")" = yes ]; then
           unmount_tree "$before_last"; mount_after=$last
         fi ;;
    esac ;;
  destroy)
    case "$last" in
      -*|*@*) ;;
      *) unmount_tree "$last"; mount_if_failed=$last ;;
    esac ;;
esac

rc=1 err=""
for _ in $(seq 20); do
  err=$("$REAL" "$@" 2>&1 >/dev/null); rc=$?
  if [ "$rc" -eq 0 ] || ! grep -q 'dataset is busy' <<<"$err"; then break; fi
  sleep 0.25
done
if [ -n "$err" ]; then printf '%s\n' "$err" >&2; fi
if [ "$rc" -eq 0 ] && [ -n "$mount_after" ]; then mount_tree "$mount_after"; fi
if [ "$rc" -ne 0 ] && [ -n "$mount_if_failed" ]; then mount_tree "$mount_if_failed" 2>/dev/null; fi
exit "$rc"
