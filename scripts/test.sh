#!/usr/bin/env bash
# The whole test suite: unit tests, the store suite on SQLite and PostgreSQL, the HTTP tests
# and the browser tests in headless Chromium. Installs what the tests need when it is missing
# (Debian packages: chromium, chromium-driver, a CJK font; PostgreSQL when absent) and starts
# PostgreSQL when it does not answer. Tests create and drop their own databases.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Browser tests: Debian's Chromium and its driver, and a font for Chinese text.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing chromium and chromium-driver"
  apt_install chromium chromium-driver
fi
if ! fc-list 2>/dev/null | grep -qi -e "wenquanyi" -e "noto sans cjk"; then
  echo "installing a CJK font"
  apt_install fonts-wqy-microhei
fi

# PostgreSQL for the store suite's second engine.
export GONGJIAN_TEST_DATABASE_URL="${GONGJIAN_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
pg_ready() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
if ! pg_ready; then
  if [ ! -d /etc/postgresql ]; then
    echo "installing PostgreSQL"
    apt_install postgresql
  fi
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  echo "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do pg_ready && break; sleep 0.5; done
  pg_ready || { echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
fi
psql "$GONGJIAN_TEST_DATABASE_URL" -qtAc "SELECT 1" >/dev/null || {
  echo "cannot connect to $GONGJIAN_TEST_DATABASE_URL (trust auth for user postgres expected)" >&2; exit 1; }

cargo test --workspace --locked "$@"
