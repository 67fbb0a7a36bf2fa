#!/usr/bin/env bash
# test-all.sh - every test tier of lxops, in order:
#   1. cargo fmt --check, cargo clippy --all-targets -- -D warnings
#   2. fast tier: cargo test -- --skip real:: --skip clustered:: --skip hostile::   (REQUIRE_SHELLCHECK=1)
#   3. the adversarial generator at full size: 10,000 hostile cases (release build),
#      then the input fuzzer for LXOPS_FUZZ_SECONDS (default 120 here)
#   4. real tier on LXD:   ci/bench-up.sh lxd,   cargo test --test it real::, ci/bench-down.sh
#   5. real tier on Incus: ci/bench-up.sh incus, cargo test --test it real::, then
#      the cluster tier: ci/cluster-up.sh (three clustered incusd, each in its own
#      namespaces), cargo test --test it clustered::, ci/cluster-down.sh; ci/bench-down.sh
# Exits non-zero if any tier fails or a bench cannot be brought up (the real
# tier is never skipped). The bench is torn down on any exit. Run as root.
#   LXOPS_BENCH_DEBIAN   build/test the debian-mini image too (default 1 here)
#   LXOPS_TEST_BACKENDS  backends to run the real tier on (default "lxd incus")
#   LXOPS_HOSTILE_CASES  cases of the adversarial generator (default 10000 here)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/.." || exit 1
# the Rust toolchain's cargo (rustup puts it in ~/.cargo/bin)
if [ -d "${CARGO_HOME:-$HOME/.cargo}/bin" ]; then PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"; fi
command -v cargo >/dev/null || { echo "test-all: cargo not found on PATH" >&2; exit 1; }
export LXOPS_BENCH_DEBIAN=${LXOPS_BENCH_DEBIAN:-1}
BACKENDS=${LXOPS_TEST_BACKENDS:-lxd incus}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms)
SUMMARY=()
FAILED=0
BENCH_UP=0
CLUSTER_UP=0
# shellcheck disable=SC2317  # invoked by the EXIT trap
teardown() {
  if [ "$CLUSTER_UP" = 1 ]; then
    echo "==> test-all: tearing the cluster down"
    bash "$HERE/cluster-down.sh" || true
    CLUSTER_UP=0
  fi
  if [ "$BENCH_UP" = 1 ]; then
    echo "==> test-all: tearing the bench down"
    bash "$HERE/bench-down.sh" all || true
    BENCH_UP=0
  fi
}
trap teardown EXIT
trap 'echo "test-all: interrupted" >&2; exit 130' INT TERM
# phase NAME CMD...: run, time, record
phase() {
  local name=$1 t rc
  shift
  printf '\n==> test-all: %s\n' "$name"
  t=$(now_ms)
  "$@"; rc=$?
  SUMMARY+=("$(printf '%-32s %-4s %7.1f s' "$name" "$([ $rc = 0 ] && echo ok || echo FAIL)" "$(( $(now_ms) - t ))e-3")")
  [ $rc = 0 ] || FAILED=1
  return $rc
}

# the fast tier needs shellcheck (REQUIRE_SHELLCHECK=1); a fresh machine lacks it
# shellcheck disable=SC2317  # called through phase "$@"
ensure_shellcheck() {
  command -v shellcheck >/dev/null && return 0
  [ "$(id -u)" = 0 ] || { echo "test-all: shellcheck missing (apt-get install shellcheck)" >&2; return 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null 2>&1 \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; }
}
phase "install shellcheck" ensure_shellcheck
phase "cargo fmt --check" cargo fmt --check
phase "cargo clippy" cargo clippy --all-targets -- -D warnings
phase "fast tier" env REQUIRE_SHELLCHECK=1 cargo test -- --skip real:: --skip clustered:: --skip hostile:: --skip fuzz::
phase "hostile inputs (${LXOPS_HOSTILE_CASES:-10000})" env LXOPS_HOSTILE_CASES="${LXOPS_HOSTILE_CASES:-10000}" \
  cargo test --release --test it hostile:: -- --nocapture
phase "fuzz (${LXOPS_FUZZ_SECONDS:-120} s)" env LXOPS_FUZZ_SECONDS="${LXOPS_FUZZ_SECONDS:-120}" \
  cargo test --release --test it fuzz:: -- --nocapture
for be in $BACKENDS; do
  BENCH_UP=1
  if phase "bench-up $be" bash "$HERE/bench-up.sh" "$be"; then
    phase "real tier ($be)" cargo test --test it real:: -- --test-threads=1
    # The cluster tier needs the Incus packages and the tiny image the
    # Incus bench brought; it runs beside the bench, in its own namespaces.
    if [ "$be" = incus ]; then
      CLUSTER_UP=1
      if phase "cluster-up" bash "$HERE/cluster-up.sh"; then
        phase "cluster tier" cargo test --test it clustered:: -- --test-threads=1
      fi
      phase "cluster-down" bash "$HERE/cluster-down.sh"
      CLUSTER_UP=0
    fi
  fi
  phase "bench-down ($be)" bash "$HERE/bench-down.sh" all
  BENCH_UP=0
done

printf '\n==> test-all summary\n'
printf '    %s\n' "${SUMMARY[@]}"
printf '    %-32s %-4s %7.1f s\n' total "$([ $FAILED = 0 ] && echo ok || echo FAIL)" "$(( $(now_ms) - T0 ))e-3"
exit $FAILED
