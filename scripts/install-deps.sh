#!/usr/bin/env bash
# Installs what building and testing Sekisho needs, when it is missing, on Debian/Ubuntu:
# cmake and a C toolchain (Pingora), pkg-config and OpenSSL headers, redis-server, and
# PostgreSQL (started, with trust auth on 127.0.0.1:5432 for the throw-away test databases),
# oathtool (an independent TOTP implementation the MFA tests check against), HAProxy (the
# deploy/haproxy example runs in front of a real gateway), and Chromium
# with ChromeDriver and CJK fonts for the browser journeys.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
command -v perl >/dev/null || need+=(perl)
command -v redis-server >/dev/null || need+=(redis-server)
# redis-cli builds the test Cluster and drives the test Sentinel.
command -v redis-cli >/dev/null || need+=(redis-tools)
command -v psql >/dev/null || need+=(postgresql-client)
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then
  need+=(postgresql)
fi

command -v oathtool >/dev/null || need+=(oathtool)
command -v haproxy >/dev/null || command -v /usr/sbin/haproxy >/dev/null || need+=(haproxy)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL must answer on 127.0.0.1:5432 (override with SEKISHO_TEST_PG).
pg_url="${SEKISHO_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}"
if ! psql "$pg_url" -tAc 'select 1' >/dev/null 2>&1; then
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql/ >/dev/null 2>&1; then
    ver=$(ls /etc/postgresql | sort -V | tail -n 1)
    conf="/etc/postgresql/$ver/main/pg_hba.conf"
    # Loopback-only trust for the test databases, as the dev machines have it.
    if [ -f "$conf" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$conf"; then
      $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$conf"
    fi
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start 2>/dev/null \
      || $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main reload 2>/dev/null || true
  fi
  for _ in $(seq 1 30); do
    psql "$pg_url" -tAc 'select 1' >/dev/null 2>&1 && break
    sleep 1
  done
  psql "$pg_url" -tAc 'select 1' >/dev/null || { echo "install-deps: PostgreSQL is not reachable at $pg_url" >&2; exit 1; }
fi
echo "install-deps: ready (cmake, redis-server, PostgreSQL, oathtool, chromium, chromedriver)"
