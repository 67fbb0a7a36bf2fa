#!/usr/bin/env bash
# Logging stand-in for incus, lxc, zfs, rsync, sudo, chown, mkdir, rm, mv,
# date, ssh, tar, sh, sha256sum, find, od and mktemp in lxops's equivalence tests. Each call appends one record to
# $LXOPS_STUB_LOG:
#   <argc> NUL <program> NUL <arg>... NUL <stdin as base64> NUL
# so the exact argv (quotes, newlines and all) and input can be compared.
# It changes nothing on the host. Answers to queries come from STUB_*
# variables; a STUB_<X>_B64 variable gives an answer as base64, so tests can
# answer with any bytes (NUL included).
prog=${0##*/}
stdin=""
# Input from a pipe or a file is logged; /dev/null (a character device) is not read.
if [ -p /dev/stdin ] || [ -f /dev/stdin ]; then stdin=$(base64 -w0); fi
# record: one call, as NUL-separated fields.
record() {
  printf '%d\0%s\0' "$#" "$prog"
  for a in "$@"; do printf '%s\0' "$a"; done
  printf '%s\0' "$stdin"
}
# Instances run at once log at once: a lock keeps each record whole.
{
  flock 9
  record "$@" >&9
} 9>>"${LXOPS_STUB_LOG:?}"
# In a plan of several instances, each one's calls go to a log of its own too.
if [ -n "${LXOPS_UNIT:-}" ]; then record "$@" >>"$LXOPS_STUB_LOG.unit.$LXOPS_UNIT"; fi
# answer NAME DEFAULT...: $STUB_NAME_B64 decoded (exact bytes), else
# $STUB_NAME with printf's backslash escapes (\n) interpreted, else the default.
answer() {
  local b64="STUB_${1}_B64" txt="STUB_$1"
  if [ -n "${!b64:-}" ]; then printf '%s' "${!b64}" | base64 -d
  elif [ -n "${!txt+set}" ]; then printf '%b' "${!txt}"
  else shift; printf "$@"; fi
}
# STUB_FAIL_AT=N: the Nth call of the run fails (the count is kept next to the log).
if [ -n "${STUB_FAIL_AT:-}" ]; then
  n=$(( $(cat "$LXOPS_STUB_LOG.count" 2>/dev/null || echo 0) + 1 ))
  echo "$n" >"$LXOPS_STUB_LOG.count"
  if [ "$n" = "$STUB_FAIL_AT" ]; then echo "stub: call $n fails as asked" >&2; exit 1; fi
fi
# STUB_FAIL: a text that makes a matching call fail.
if [ -n "${STUB_FAIL:-}" ]; then
  case " $prog $* " in *"$STUB_FAIL"*) echo "stub: failing as asked" >&2; exit 1 ;; esac
fi
if [ "$prog" = lxc ] && [ "${1:-}" = rebuild ]; then
  echo 'Error: unknown command "rebuild" for "lxc"' >&2
  exit 1
fi
# With LXOPS_GUEST_SANDBOX (the path of guest-sandbox.sh), guest shell
# scripts really run, in a throwaway root, to show no value becomes code.
if [ -n "${LXOPS_GUEST_SANDBOX:-}" ] && { [ "$prog" = incus ] || [ "$prog" = lxc ]; }; then
  args=("$@")
  for ((i = 0; i < ${#args[@]} - 1; i++)); do
    if [ "${args[i]}" = -- ] && [ "${args[i+1]}" = /bin/sh ]; then
      printf '%s' "$stdin" | base64 -d | "$LXOPS_GUEST_SANDBOX" "${args[@]:i+2}" >/dev/null 2>&1 || true
      break
    fi
  done
fi
case "$prog" in
  incus | lxc)
    all=" $* "
    case "$all" in
      *" profile list "*)
        printf 'default,Default profile,3\n'
        for p in ${STUB_PROFILES:-}; do printf '%s,,1\n' "$p"; done ;;
      *" --columns ns,user.lxops.launch "*)
        answer INSTANCES_TEXT ''
        # STUB_PROJECT_INSTANCES: PROJECT=name,STATE words for `--project PROJECT`.
        if [ "$1" = --project ]; then
          for i in ${STUB_PROJECT_INSTANCES:-}; do
            if [ "${i%%=*}" = "$2" ]; then printf '%s\n' "${i#*=}"; fi
          done
        else
          for i in ${STUB_INSTANCES:-}; do printf '%s\n' "$i"; done
        fi ;;
      *" n,volatile.eth0.hwaddr "*)
        answer KEYS '' ;;
      *" query /1.0/instances/"*)
        answer API '{"name":"%s"}\n' "${*: -1}" ;;
      *" list --all-projects "*)
        answer LISTALL '[]' ;;
      *" profile show "*)
        answer PROFILE_SHOW 'config: {}\ndescription: ""\ndevices: {}\nname: %s\nused_by: []\n' "${*: -1}" ;;
      *" n,volatile.base_image "*)
        answer BASE_IMAGES '' ;;
      *" image list "*)
        answer IMAGES '[]' ;;
      *" image alias list "*)
        answer ALIASES '' ;;
      *" --columns n4 "*)
        answer N4 '%s,"10.9.8.7 (eth0)"\n' "${*: -1}" ;;
      *" --columns nL "*)
        # STUB_LOCATIONS: `name,member` lines; else each of STUB_INSTANCES on m2.
        if [ -n "${STUB_LOCATIONS+x}${STUB_LOCATIONS_B64+x}" ]; then
          answer LOCATIONS ''
        else
          for i in ${STUB_INSTANCES:-}; do printf '%s,m2\n' "${i%%,*}"; done
        fi ;;
      *" image info "*) ;;
      *" info "*)
        # STUB_LOCATION: the cluster member `info` names.
        printf 'Name: %s\nStatus: RUNNING\n' "${*: -1}"
        answer LOCATION 'Location: m2\n' ;;
      *" config show --expanded "*)
        answer EXPANDED 'devices:\n  eth0:\n    name: eth0\n    type: nic\n' ;;
      *" config show "*)
        last=${*: -1}
        answer SHOW 'architecture: x86_64\nconfig:\n  image.os: busybox\n  volatile.eth0.hwaddr: 10:66:6a:01:02:03\n  volatile.eth1.hwaddr: 10:66:6a:04:05:06\n  volatile.idmap.base: "0"\ndevices: {}\nephemeral: false\nprofiles:\n- default\n- %s.lxops\nstateful: false\n' "${last%%/*}" ;;
    esac ;;
  zfs)
    # STUB_ZFS: the datasets and snapshots that exist (`zfs list -r` lists a
    # dataset's snapshots and children, in the order given).
    if [ "$1" = list ]; then
      last=${*: -1}
      found=1
      for d in ${STUB_ZFS:-}; do
        if [ "$d" = "$last" ]; then found=0; [ "${*: -2:1}" = -r ] || { printf '%s\n' "$d"; exit 0; }; fi
      done
      if [ "${*: -2:1}" = -r ]; then
        for d in ${STUB_ZFS:-}; do
          case $d in "$last@"* | "$last/"*) printf '%s\n' "$d"; found=0 ;; esac
        done
      fi
      exit "$found"
    fi
    if [ "$1" = get ]; then
      for d in ${STUB_ZFS:-}; do
        if [ "$d" = "${*: -1}" ]; then answer MOUNTPOINT '/%s\n' "$d"; exit 0; fi
      done
      exit 1
    fi ;;
  date)
    answer DATE 'lxops-rebuild-20260101-000000\n' ;;
  find)
    answer FIND '' ;;
  od)
    answer OD '  10 200 3 77 25 0 255 13\n' ;;
  mktemp)
    answer MKTEMP '/var/tmp/lxops-extract.Ab3dEf9h\n' ;;
  ssh)
    # ssh -o BatchMode=yes -- DEST COMMAND: the command runs here, with the stand-ins.
    while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
    shift 2
    exec bash -c "$1" ;;
  sudo)
    [ "$1" = -n ] && shift
    exec "$@" ;;
esac
# STUB_SLEEP="TEXT SECONDS": a matching call takes that long (and dies at
# once of a signal: `exec` leaves no shell waiting for the sleep).
if [ -n "${STUB_SLEEP:-}" ]; then
  case " $prog $* " in *"${STUB_SLEEP% *}"*) exec sleep "${STUB_SLEEP##* }" ;; esac
fi
exit 0
