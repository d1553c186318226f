#!/usr/bin/env bash
# apt_wait CMD...: run an apt command, waiting (bounded) while another process holds the apt or dpkg
# lock instead of failing at once. Sourced by tests/setup.sh; tests/test_setup_script.py drives it.
#   APT_LOCK_WAIT  seconds to wait in all (default 600); APT_LOCK_POLL  seconds between tries (default 5)
# A lock error is what apt prints when another apt/dpkg (unattended-upgrades, a second setup.sh) runs:
#   "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (apt-get)"
#   "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?"
#   "E: Unable to lock directory /var/lib/apt/lists/"
# Any other failure is returned at once: waiting would not fix it.
apt_wait() {
  local limit=${APT_LOCK_WAIT:-600} poll=${APT_LOCK_POLL:-5} waited=0 said=0 err rc
  err=$(mktemp)
  while true; do
    rc=0
    # DPkg::Lock::Timeout makes apt itself wait for the dpkg frontend lock; the loop covers the
    # lists lock of `apt-get update`, which that option does not cover.
    "$@" 2>"$err" || rc=$?
    if ((rc == 0)) || ! grep -qE 'Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock' "$err"; then
      cat "$err" >&2
      rm -f "$err"
      return "$rc"
    fi
    if ((said == 0)); then
      echo "tests/setup.sh: another process holds the apt lock; waiting up to ${limit} s ($(head -n1 "$err"))" >&2
      said=1
    fi
    if awk -v w="$waited" -v l="$limit" 'BEGIN { exit !(w >= l) }'; then
      echo "tests/setup.sh: the apt lock is still held after ${limit} s; giving up (set APT_LOCK_WAIT to wait longer)" >&2
      cat "$err" >&2
      rm -f "$err"
      return "$rc"
    fi
    sleep "$poll"
    waited=$(awk -v w="$waited" -v p="$poll" 'BEGIN { print w + p }')
  done
}
