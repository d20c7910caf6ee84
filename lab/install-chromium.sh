#!/usr/bin/env bash
# Installs Debian's chromium, which test/reports/gameday-report.test.ts uses to render game day
# reports headless (DOM dump and screenshot). Idempotent: returns at once when /usr/bin/chromium is
# there. Runs apt-get update only when the package lists do not offer chromium, or when an install from
# them fails (stale lists name versions the mirror no longer serves).
set -euo pipefail

say() { printf '[lab] %s\n' "$*"; }

if [ -x /usr/bin/chromium ]; then
  say "chromium already installed ($(dpkg-query -W -f='${Version}' chromium 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  say "chromium is missing and installing it needs root: run 'sudo bash $0'" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Runs apt-get, printing only its summary lines (sizes, fetch totals, each package set up) so a slow
# install shows progress without hundreds of lines; the whole output is shown when it fails.
apt_get() {
  set +e
  apt-get -q -o Dpkg::Use-Pty=0 "$@" 2>&1 | tee "$log" | grep --line-buffered -E '^(Need to get|After this operation|Fetched|Setting up|E:)' | sed -u 's/^/[lab]   /'
  local rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || { cat "$log" >&2; return "$rc"; }
}

# Recommends (upower, notification daemons, mesa) serve a desktop; headless rendering needs none of them.
install_chromium() { apt_get install -y --no-install-recommends chromium; }

# Reads the whole policy first: `grep -q` closing the pipe early would fail apt-cache under pipefail.
offered() { [[ $(apt-cache policy chromium 2>/dev/null) == *"Candidate: "[0-9]* ]]; }

started=$SECONDS
if ! offered; then
  say "package lists do not offer chromium: running apt-get update"
  apt_get update
fi
say "installing chromium with apt-get"
if ! install_chromium; then
  say "install failed, refreshing package lists and retrying once"
  apt_get update
  install_chromium
fi
[ -x /usr/bin/chromium ] || { say "apt-get reported success but /usr/bin/chromium is missing" >&2; exit 1; }
say "chromium $(dpkg-query -W -f='${Version}' chromium) installed in $((SECONDS - started)) s"
