"""tests/setup.sh waits, bounded and saying so, while another process holds the apt lock.

The oracle is the real apt-get: `apt-get clean` with its cache and lists folders moved into a temporary
folder takes the same fcntl lock (`<archives>/lock`) that `apt-get update/install` take on the real
folders, and prints the same "Could not get lock" error when another process holds it. This test holds
that lock itself, so nothing on the machine's own apt folders is touched.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pytest

REPO = Path(__file__).resolve().parents[1]
APT_WAIT = REPO / "tests" / "apt_wait.sh"

pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None, reason="apt-get is not installed")


def _apt_clean(root: Path) -> list[str]:
    for sub in ("cache/archives/partial", "lists/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return ["apt-get", "-o", f"Dir::Cache={root}/cache", "-o", f"Dir::Cache::Archives={root}/cache/archives/",
            "-o", f"Dir::State::Lists={root}/lists/", "clean"]


@contextmanager
def _held(lock: Path) -> Iterator[TextIO]:
    with lock.open("w") as handle:
        fcntl.lockf(handle, fcntl.LOCK_EX)
        yield handle


def _apt_wait(command: list[str], *, wait: str, poll: str = "0.1") -> subprocess.Popen[str]:
    script = f'source "{APT_WAIT}"; APT_LOCK_WAIT={wait} APT_LOCK_POLL={poll} apt_wait "$@"'
    return subprocess.Popen(["bash", "-c", script, "apt_wait", *command],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_waits_while_the_lock_is_held_then_runs(tmp_path: Path) -> None:
    command = _apt_clean(tmp_path)
    with _held(tmp_path / "cache/archives/lock") as handle:
        process = _apt_wait(command, wait="600")
        assert process.stderr is not None
        first = process.stderr.readline()  # printed once apt reported the lock: only then let it go
        assert "another process holds the apt lock; waiting up to 600 s" in first
        assert "Could not get lock" in first
        fcntl.lockf(handle, fcntl.LOCK_UN)
        _, rest = process.communicate(timeout=120)
    assert process.returncode == 0, rest
    assert "giving up" not in rest


def test_gives_up_after_the_bound_and_names_it(tmp_path: Path) -> None:
    command = _apt_clean(tmp_path)
    with _held(tmp_path / "cache/archives/lock"):
        process = _apt_wait(command, wait="0.3")
        _, err = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "waiting up to 0.3 s" in err
    assert "the apt lock is still held after 0.3 s; giving up (set APT_LOCK_WAIT to wait longer)" in err


def test_other_failures_return_at_once_without_waiting(tmp_path: Path) -> None:
    process = _apt_wait(["apt-get", "--no-such-option"], wait="600")
    _, err = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "waiting" not in err and err.strip()  # apt's own error, passed through


def test_setup_script_runs_every_apt_get_through_the_wait() -> None:
    lines = [line.strip() for line in (REPO / "tests/setup.sh").read_text().splitlines()]
    apt_lines = [line for line in lines if "apt-get " in line and not line.startswith("#")]
    assert apt_lines and all(line.startswith("apt_wait apt-get ") for line in apt_lines), apt_lines
