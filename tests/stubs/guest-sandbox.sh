#!/usr/bin/env bash
# guest-sandbox.sh ARG...: runs `/bin/sh ARG...` (a guest script on stdin,
# or `-c SCRIPT NAME ARG...`) the way a guest would, in a throwaway root: a
# private mount namespace whose / is a tmpfs with the host's /usr, /bin and
# /lib read-only-bound in, an empty /etc, and stand-ins that succeed (`id`
# fails: no user exists yet) for every program the guest scripts call. Only
# /tmp/lxops-canary is shared with the host, so a value that became code and
# wrote there is seen by the hostile-input test. Nothing else can leak out.
set -euo pipefail
# The system's own programs, not the stand-ins that precede them on PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec unshare -Urm --fork bash -c '
set -e
root=$(mktemp -d)
mount -t tmpfs none "$root"
for d in bin sbin lib lib32 lib64 libx32 usr; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$root/$d"
  elif [ -d "/$d" ]; then mkdir "$root/$d"; mount --rbind -o ro "/$d" "$root/$d"; fi
done
mkdir -p "$root/etc" "$root/tmp/lxops-canary" "$root/gbin" "$root/dev"
touch "$root/dev/null"
mount --bind /dev/null "$root/dev/null"
mount --bind /tmp/lxops-canary "$root/tmp/lxops-canary"
for c in adduser chpasswd chown chmod mkdir ln setup-timezone apk apt-get opkg tr grep cat; do
  printf "#!/bin/sh\nexit 0\n" >"$root/gbin/$c"
  chmod +x "$root/gbin/$c"
done
printf "#!/bin/sh\nexit 1\n" >"$root/gbin/id"
chmod +x "$root/gbin/id"
exec chroot "$root" /usr/bin/env -i PATH=/gbin /bin/sh "$@"
' guest-sandbox "$@"
