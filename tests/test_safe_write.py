"""safe_write: atomic replace, and a planted link is refused, never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditplan.safe_write import UnsafePathError, write_bytes, write_text


def test_writes_and_replaces_a_regular_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_text(target, "one\n")
    write_text(target, "two\nlines\n", newline="\r\n")
    assert target.read_bytes() == b"two\r\nlines\r\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no temporary file left behind


def test_a_planted_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "r.html"
    link.symlink_to(victim)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        write_bytes(link, b"<html>")
    assert victim.read_text() == "precious"
    assert os.readlink(link) == str(victim)


def test_a_folder_or_dangling_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(UnsafePathError, match="folder"):
        write_text(tmp_path / "dir", "x")
    dangling = tmp_path / "gone.html"
    dangling.symlink_to(tmp_path / "nowhere" / "x.html")
    with pytest.raises(UnsafePathError):
        write_text(dangling, "x")
    assert not (tmp_path / "nowhere").exists()
