#!/usr/bin/env bash
# Logging stand-in for incus, lxc, zfs, rsync, sudo, chown, mkdir and rm in
# lxops's equivalence tests. Each call appends one record to $LXOPS_STUB_LOG:
#   <argc> NUL <program> NUL <arg>... NUL <stdin as base64> NUL
# so the exact argv (quotes, newlines and all) and input can be compared.
# It changes nothing on the host. Answers to queries come from STUB_* variables.
prog=$(basename "$0")
stdin=""
if [ ! -t 0 ]; then stdin=$(base64 -w0); fi
{
  printf '%d\0%s\0' "$#" "$prog"
  for a in "$@"; do printf '%s\0' "$a"; done
  printf '%s\0' "$stdin"
} >>"${LXOPS_STUB_LOG:?}"
case "$prog" in
  incus | lxc)
    all=" $* "
    case "$all" in
      *" profile list "*)
        printf 'default\n'
        for p in ${STUB_PROFILES:-}; do printf '%s\n' "$p"; done ;;
      *" --columns ns "*)
        for i in ${STUB_INSTANCES:-}; do printf '%s\n' "$i"; done ;;
      *" --columns n4 "*)
        printf '%s,"10.9.8.7 (eth0)"\n' "${*: -1}" ;;
      *" config show --expanded "*)
        printf 'devices:\n  eth0:\n    name: eth0\n    type: nic\n' ;;
    esac ;;
  zfs)
    if [ "$1" = list ]; then
      for d in ${STUB_ZFS:-}; do
        if [ "$d" = "${*: -1}" ]; then printf '%s\n' "$d"; exit 0; fi
      done
      exit 1
    fi ;;
  sudo)
    [ "$1" = -n ] && shift
    exec "$@" ;;
esac
exit 0
