#!/usr/bin/env bash
# image-tiny.sh OUTDIR - build the "tiny" test image offline, as two
# deterministic tarballs OUTDIR/metadata.tar.gz and OUTDIR/rootfs.tar.gz
# (same bytes, hence same image fingerprint, on every run).
#
# A busybox-static rootfs dressed up as a minimal Alpine guest:
#  - /sbin/init: a shell script that runs rcS and exits on SIGPWR/SIGTERM
#    (quick `stop`), rcS brings eth0 up with udhcpc and writes /run/booted
#  - accounts root, user (1000), nobody; groups adm (4), wheel (10), nogroup;
#    /etc/shadow; /etc/sudoers.d and /etc/doas.d; /etc/alpine-release
#  - stand-ins (ci/tiny-standins) for the applets Debian's busybox-static
#    lacks (adduser, addgroup, chpasswd) and for apk and setup-timezone
set -euo pipefail
OUT=${1:?usage: image-tiny.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
MTIME=1700000000
umask 022
[ -x /bin/busybox ] || { echo "image-tiny: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lxops-tiny.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
R=$WORK/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,etc/sudoers.d,etc/doas.d,etc/skel,dev,proc,sys,tmp,root,home/user,run,var/log,usr/share/udhcpc}
cp /bin/busybox "$R/bin/busybox"
chroot "$R" /bin/busybox --install -s
# our stand-ins replace whatever busybox offers under these names
for f in adduser addgroup chpasswd; do
  rm -f "$R/bin/$f" "$R/sbin/$f" "$R/usr/bin/$f" "$R/usr/sbin/$f"
  install -m 755 "$HERE/tiny-standins/$f" "$R/usr/sbin/$f"
done
for f in apk setup-timezone; do
  rm -f "$R/bin/$f" "$R/sbin/$f" "$R/usr/bin/$f" "$R/usr/sbin/$f"
  install -m 755 "$HERE/tiny-standins/$f" "$R/sbin/$f"
done
[ -e "$R/usr/bin/mkpasswd" ] || [ -e "$R/bin/mkpasswd" ] || { echo "image-tiny: busybox has no mkpasswd applet (chpasswd needs it)" >&2; exit 1; }

cat > "$R/etc/passwd" <<'X'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
X
cat > "$R/etc/group" <<'X'
root:x:0:root
adm:x:4:root
wheel:x:10:root
user:x:1000:
nogroup:x:65534:
X
cat > "$R/etc/shadow" <<'X'
root:*:19700:0:99999:7:::
user:!:19700:0:99999:7:::
nobody:!:19700:0:99999:7:::
X
chmod 640 "$R/etc/shadow"
chmod 750 "$R/etc/sudoers.d" "$R/etc/doas.d"
echo 3.19.1 > "$R/etc/alpine-release"
cat > "$R/etc/os-release" <<'X'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19 (lxops test stand-in: busybox-static)"
X
echo /bin/sh > "$R/etc/shells"
echo tiny > "$R/etc/hostname"
echo '127.0.0.1 localhost' > "$R/etc/hosts"

rm -f "$R/sbin/init"
cat > "$R/sbin/init" <<'X'
#!/bin/sh
# PID 1 of the tiny image: `stop` sends SIGPWR, which ends it at once
trap 'exit 0' PWR TERM INT USR1 USR2
rm -f /run/booted
/etc/init.d/rcS
while :; do sleep 3600 & wait $!; done
X
cat > "$R/etc/init.d/rcS" <<'X'
#!/bin/sh
[ -f /etc/hostname ] && hostname -F /etc/hostname
ip link set lo up 2>/dev/null
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  udhcpc -b -i eth0 -s /usr/share/udhcpc/default.script >/dev/null 2>&1
fi
echo booted > /run/booted
X
cat > "$R/usr/share/udhcpc/default.script" <<'X'
#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface" ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface" 2>/dev/null
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done ;;
esac
exit 0
X
chmod 755 "$R/sbin/init" "$R/etc/init.d/rcS" "$R/usr/share/udhcpc/default.script"
# user's home, what `lxops extract` copies in the real tier: a private file,
# a symbolic link, a set-user-ID file and a file of another owner (wheel)
printf 'export PS1=tiny\n' > "$R/home/user/.profile"
chmod 600 "$R/home/user/.profile"
ln -s .profile "$R/home/user/profile-link"
mkdir "$R/home/user/bin"
printf '#!/bin/sh\necho setuid\n' > "$R/home/user/bin/tool"
chown -h -R 1000:1000 "$R/home/user"
chmod 4755 "$R/home/user/bin/tool"  # after chown, which clears the bit
printf 'shared\n' > "$R/home/user/shared"
chown 0:10 "$R/home/user/shared"
chmod 1777 "$R/tmp"

cat > "$WORK/metadata.yaml" <<X
architecture: x86_64
creation_date: $MTIME
properties:
  architecture: x86_64
  os: alpine
  release: "3.19"
  variant: busybox-standin
  description: "lxops test image: busybox-static rootfs with alpine-like stand-ins"
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
# rootfs keeps its owners (/home/user is 1000:1000) and modes
tar -C "$R" --sort=name --mtime=@$MTIME --numeric-owner -cf - . | gzip -n > "$OUT/rootfs.tar.gz"
