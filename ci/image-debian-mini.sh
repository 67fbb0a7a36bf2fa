#!/usr/bin/env bash
# image-debian-mini.sh OUTDIR - build the "debian-mini" test image:
# `debootstrap --variant=minbase --include=adduser,passwd bookworm` from the
# Debian archive this machine's apt already uses, plus
#  - /sbin/init: trap-and-sleep PID 1 that writes /run/booted
#  - apt-get replaced (dpkg-divert) by a recording stand-in:
#      apt-get [OPTS] install [OPTS] PKG...  appends "PKG..." as one line to
#      /var/log/apt-get-installed and exits 0; any other command fails.
# Output: OUTDIR/metadata.tar.gz and OUTDIR/rootfs.tar.gz (sorted, fixed
# mtime, gzip -n). About 30 s; bench-up.sh caches the result.
set -euo pipefail
OUT=${1:?usage: image-debian-mini.sh OUTDIR}
MTIME=1700000000
umask 022
ARCHIVE=${LXOPS_BENCH_DEBIAN_ARCHIVE:-$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)}
[ -n "$ARCHIVE" ] || { echo "image-debian-mini: no Debian archive URI in /etc/apt/sources.list.d/*.sources" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "image-debian-mini: debootstrap missing" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/lxops-debian.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/rootfs
if ! debootstrap --variant=minbase --include=adduser,passwd bookworm "$R" "$ARCHIVE" > "$WORK/debootstrap.log" 2>&1; then
  tail -30 "$WORK/debootstrap.log" >&2
  echo "image-debian-mini: debootstrap failed" >&2
  exit 1
fi

cat > "$R/sbin/init" <<'X'
#!/bin/sh
# PID 1 of debian-mini: `stop` sends SIGPWR, which ends it at once
trap 'exit 0' PWR TERM INT USR1 USR2
rm -f /run/booted
[ -f /etc/hostname ] && hostname "$(cat /etc/hostname)"
echo booted > /run/booted
while :; do sleep 3600 & wait $!; done
X
chmod 755 "$R/sbin/init"

chroot "$R" dpkg-divert --quiet --local --rename --add /usr/bin/apt-get
cat > "$R/usr/bin/apt-get" <<'X'
#!/bin/sh
# apt-get - lxops test-bench stand-in (the real one is /usr/bin/apt-get.distrib).
# `apt-get [OPTS] install [OPTS] PKG...` appends "PKG..." as one line to
# /var/log/apt-get-installed and succeeds. Anything else fails.
LOG=/var/log/apt-get-installed
cmd="" pkgs="" skip=0
for a in "$@"; do
  if [ "$skip" = 1 ]; then skip=0; continue; fi
  case $a in
    -o|-c|-t|--option|--config-file|--target-release) skip=1 ;;
    -*) ;;
    *) if [ -z "$cmd" ]; then cmd=$a; else pkgs="${pkgs:+$pkgs }$a"; fi ;;
  esac
done
case $cmd in
  install)
    [ -n "$pkgs" ] || { echo "apt-get (stand-in): install: no packages given" >&2; exit 100; }
    printf '%s\n' "$pkgs" >> "$LOG" ;;
  *) echo "E: apt-get (lxops test stand-in) supports only 'install', not '${cmd:-<none>}'" >&2; exit 100 ;;
esac
X
chmod 755 "$R/usr/bin/apt-get"
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/cache/ldconfig/aux-cache
echo debian-mini > "$R/etc/hostname"

cat > "$WORK/metadata.yaml" <<X
architecture: x86_64
creation_date: $MTIME
properties:
  architecture: x86_64
  os: debian
  release: bookworm
  variant: minbase
  description: "lxops test image: debian bookworm minbase (debootstrap) with recording apt-get"
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
X
mkdir -p "$WORK/templates"
echo '{{ container.name }}' > "$WORK/templates/hostname.tpl"
mkdir -p "$OUT"
tar -C "$WORK" --sort=name --mtime=@$MTIME --owner=0 --group=0 --numeric-owner \
  -cf - metadata.yaml templates | gzip -n > "$OUT/metadata.tar.gz"
tar -C "$R" --sort=name --mtime=@$MTIME --numeric-owner -cf - . | gzip -n > "$OUT/rootfs.tar.gz"
