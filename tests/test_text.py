"""auditplan.text: the one place untrusted text is made safe (terminal, CSV, XML, chart, messages)."""

from __future__ import annotations

import csv
import io
import math
import xml.etree.ElementTree as ET

import pytest

from auditplan import text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("web01", "web01"),
        ("a\x1b[31mred\x1b[0m", "ared"),  # CSI colour codes dropped whole
        ("x\x1b]0;owned\x07y", "xy"),  # OSC window title dropped whole
        ("x\x1bcy", "xy"),  # ESC c (terminal reset)
        ("one\ntwo\rthree\tfour", "one two three four"),  # a reason is one line
        ("abc\u202edcba", "abc dcba"),  # bidi override cannot reorder the line
        ("zero\u200bwidth", "zero width"),
        ("c1\x85next", "c1 next"),
    ],
)
def test_terminal_drops_escapes_and_controls(raw: str, shown: str) -> None:
    assert text.terminal(raw) == shown


def test_escaped_shows_every_non_printable() -> None:
    assert text.escaped("a\x1b[2Jb\r") == "a\\x1b[2Jb\\x0d"
    assert text.escaped(None) == ""


def test_excerpt_is_one_short_line() -> None:
    assert text.excerpt("  Error\r\n  0x5\x00 denied  ") == "Error 0x5 denied"
    long = "x" * 100
    assert text.excerpt(long, limit=10) == "x" * 10 + "..."


def test_quoted_uses_ascii_escapes_for_invisible_characters() -> None:
    assert text.quoted("web01") == "'web01'"
    assert text.quoted("we\u202eb") == "'we\\u202eb'"
    assert text.quoted("y" * 70, limit=5) == repr("yyyyy…")


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20"])
def test_csv_cell_neutralises_every_formula_trigger(trigger: str) -> None:
    cell = text.csv_cell(f"{trigger}HYPERLINK(\"http://x\")")
    assert cell.startswith("'")
    # The neutralised cell survives a CSV round trip (Python's csv module, RFC 4180 quoting).
    out = io.StringIO()
    csv.writer(out).writerow([cell])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == [cell]


def test_csv_cell_leaves_plain_text() -> None:
    assert text.csv_cell("web01") == "web01"
    assert text.csv_cell("a=b") == "a=b"


def test_xml_chars_make_any_text_parseable() -> None:
    hostile = "ok\x00\x01\x1b\ud800\ufffe end"
    cleaned = text.xml_chars(hostile)
    root = ET.fromstring(f"<a>{cleaned}</a>")
    assert root.text == "ok\ufffd\ufffd\ufffd\ufffd\ufffd end"
    assert text.xml_chars("\x00", replacement="?") == "?"


def test_chart_label_allows_a_small_alphabet_and_a_length() -> None:
    assert text.chart_label("<script>alert(1)</script>") == "_script_alert(1)_/script_"
    assert text.chart_label("r" * 40) == "r" * 31 + "_"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "n/a"),
        (math.nan, "n/a"),
        (math.inf, "n/a"),
        ("x", "n/a"),
        (0, "0"),
        (1234567.8, "1,234,568"),
        (999.4, "999"),
        (12.345, "12.3"),
        (0.012345, "0.0123"),
        (-2.5, "-2.50"),
        ("42", "42.0"),
    ],
)
def test_number_for_people(value: object, shown: str) -> None:
    assert text.number(value) == shown


def test_error_line_is_one_line_and_names_a_silent_exception() -> None:
    assert text.error_line(ValueError("  first\nsecond\r\nthird")) == "first"
    assert text.error_line(OSError("x" * 500), limit=10) == "x" * 10
    assert text.error_line(KeyError()) == "KeyError"
    assert text.error_line(KeyError(), empty="") == ""
