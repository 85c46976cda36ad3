#!/usr/bin/env bash
# The benchmark harness in one command (see benches/README.md):
#   benches/run.sh [compare|storm|memory|soak|all] [options]   (--help lists them)
# Installs wrk and nginx from Debian's packages when missing, raises the open-file
# limit (10,000 idle connections), builds the release binaries (sekisho,
# bare-pingora, sekisho-bench: one cargo invocation, the workspace's fat-LTO
# profile), then runs the harness. Everything it starts listens on ephemeral loopback
# ports and is stopped by PID at the end, on error and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

install_missing() {
  local need=()
  command -v wrk >/dev/null || need+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
  command -v redis-server >/dev/null || need+=(redis-server)
  [ ${#need[@]} -eq 0 ] && return 0
  echo "run.sh: installing ${need[*]} from Debian's packages"
  # The packages' own services (nginx on port 80, redis on 6379) must not start:
  # the harness runs its own copies. A policy-rc.d that says no is added for the
  # install only, unless one is there already.
  local added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    added=1
  fi
  local status=0
  export DEBIAN_FRONTEND=noninteractive
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${need[@]}" >/dev/null; } || status=$?
  if [ -n "$added" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
  return $status
}

install_missing
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

target="${CARGO_TARGET_DIR:-target}"
# SEKISHO_BENCH_PROFILE=bench-quick builds without fat LTO for quick iterations;
# the published figures use the release profile.
profile="${SEKISHO_BENCH_PROFILE:-release}"
if [ -z "${SEKISHO_BENCH_SKIP_BUILD:-}" ]; then
  cargo build --profile "$profile" --locked -p sekisho-gateway -p sekisho-benches --bins
fi
exec "$target/$profile/sekisho-bench" --bin-dir "$target/$profile" "$@"
