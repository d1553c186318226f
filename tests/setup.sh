#!/usr/bin/env bash
# Set-up for the demo and the tests (README "Set-up"): the Debian packages the tests use, a virtualenv,
# and the project with its dev extras. Safe to re-run: every step is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Samba's Python modules are the independent parser of the emitted GPO files
# (GPL-3.0, used as a test oracle only, never vendored); Chromium renders the HTML report.
# Go with github.com/masterzen/winrm is the independent non-Python WinRM client the simulator is
# checked against (tests/clients/test_go_winrm.py builds its small wrapper at test time).
APT_PACKAGES=(python3-samba chromium chromium-driver)
APT_PACKAGES+=(golang-go golang-github-masterzen-winrm-dev)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    # Another apt (unattended-upgrades, a second set-up) may hold the lock: wait for it, bounded.
    source tests/apt_wait.sh
    apt_wait apt-get update -qq
    apt_wait apt-get install -y -qq --no-install-recommends -o "DPkg::Lock::Timeout=${APT_LOCK_WAIT:-600}" \
      "${missing[@]}" >/dev/null
  else
    echo "tests/setup.sh: missing Debian packages (${missing[*]}); run as root to install them," \
         "or the tests that need them skip" >&2
  fi
fi

PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,dask]'
