"""`auditplan plan --exclude FILE` (inventory.read_exclude): host names one per line; lines that are
not a name are skipped with a warning naming FILE:LINE, and nothing invisible gets through."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditplan.inventory import InventoryError, read_exclude


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "skip.txt"
    path.write_bytes(text.encode("utf-8"))
    return path


def test_names_comments_and_the_first_word(tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeff# not these\r\nWEB02   # retiring\r\n\r\nsql01 extra words\r\nweb02\r\nfile01\tnote\r\n")
    names, warnings = read_exclude(path)
    assert names == {"web02": "skip.txt:2", "sql01": "skip.txt:4", "file01": "skip.txt:6"}
    assert warnings == [f"{path}:4: only the first word (sql01) is a host name; the rest is ignored",
                        f"{path}:6: only the first word (file01) is a host name; the rest is ignored"]


@pytest.mark.parametrize(("char", "code"), [
    ("\x7f", "U+007F"),  # DEL
    ("\x9b", "U+009B"),  # C1 CSI: a terminal escape on its own
    ("\u202e", "U+202E"),  # RIGHT-TO-LEFT OVERRIDE: "web\u202e10bew" shows reversed
    ("\u200b", "U+200B"),  # ZERO WIDTH SPACE: two names that look the same
    ("\x1b", "U+001B"),
    ("\x1e", "U+001E"),  # RS: str.splitlines would end the line here and hide it
])
def test_control_and_invisible_characters_are_not_a_host_name(tmp_path: Path, char: str, code: str) -> None:
    path = _write(tmp_path, f"web01\nweb{char}02\nsql01\n")
    names, warnings = read_exclude(path)
    assert names == {"web01": "skip.txt:1", "sql01": "skip.txt:3"}
    assert warnings == [f"{path}:2: not a host name (the control or invisible character {code}), skipped"]


def test_a_name_in_a_warning_is_shown_escaped(tmp_path: Path) -> None:
    # SOFT HYPHEN is not a control character but does not print: the warning shows it as \xad.
    path = _write(tmp_path, "web\u00ad01 extra\n")
    names, warnings = read_exclude(path)
    assert names == {"web\u00ad01": "skip.txt:1"}
    assert warnings == [f"{path}:1: only the first word (web\\xad01) is a host name; the rest is ignored"]


def test_bytes_that_are_not_utf8_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "skip.txt"
    path.write_bytes(b"web01\nweb\xff02\n")
    names, warnings = read_exclude(path)
    assert names == {"web01": "skip.txt:1"}
    assert warnings == [f"{path}:2: not a host name (bytes that are not UTF-8), skipped"]


def test_an_unreadable_file_is_one_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"skip\.txt: cannot read"):
        read_exclude(tmp_path / "skip.txt")
