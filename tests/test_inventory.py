"""load_inventory: the hosts.txt and CSV grammars, and hostile files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from auditplan.inventory import MAX_LINE_BYTES, Inventory, InventoryError, load_inventory
from auditplan.records import Host


def _write(tmp_path: Path, content: str | bytes, name: str = "hosts.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _load(tmp_path: Path, content: str | bytes, name: str = "hosts.txt") -> Inventory:
    return load_inventory(_write(tmp_path, content, name))


def _names(inventory: Inventory) -> list[str]:
    return [h.name for h in inventory.hosts]


def _reasons(inventory: Inventory) -> dict[int | None, str]:
    return {e.line: e.reason for e in inventory.errors}


# -- hosts.txt grammar ---------------------------------------------------------------------


def test_plain_forms_parse_to_name_address_and_port(tmp_path: Path) -> None:
    inv = _load(
        tmp_path,
        "dc01\n"
        "web01:5986\n"
        "app01.corp.example.com\n"
        "app02.corp.example.com.:5985\n"  # absolute FQDN: trailing dot dropped
        "10.1.2.3\n"
        "10.1.2.4:5985\n"
        "[2001:db8::10]\n"
        "[2001:db8::11]:5986\n"
        "fe80::1\n"  # bare IPv6 whose last group cannot be a port
        "WIN-K0AKLED332V\n",  # a NetBIOS-style computer name (windows-tool-outputs.md)
    )
    assert inv.errors == ()
    assert [(h.name, h.address, h.port) for h in inv.hosts] == [
        ("dc01", "dc01", None),
        ("web01", "web01", 5986),
        ("app01.corp.example.com", "app01.corp.example.com", None),
        ("app02.corp.example.com", "app02.corp.example.com", 5985),
        ("10.1.2.3", "10.1.2.3", None),
        ("10.1.2.4", "10.1.2.4", 5985),
        ("2001:db8::10", "2001:db8::10", None),
        ("2001:db8::11", "2001:db8::11", 5986),
        ("fe80::1", "fe80::1", None),
        ("WIN-K0AKLED332V", "WIN-K0AKLED332V", None),
    ]
    assert inv.hosts[1].source == f"{tmp_path / 'hosts.txt'}:2"


def test_comments_and_blank_lines(tmp_path: Path) -> None:
    inv = _load(tmp_path, "# fleet\n\n   \ndc01   # primary DC\n\t# indented comment\nweb01\t#tab comment\n")
    assert _names(inv) == ["dc01", "web01"]
    assert inv.errors == ()


def test_hash_without_whitespace_is_not_a_comment(tmp_path: Path) -> None:
    inv = _load(tmp_path, "dc01\nweb01#x\n")
    assert _names(inv) == ["dc01"]
    assert "'#'" in _reasons(inv)[2]


@pytest.mark.parametrize(
    ("entry", "reason_part"),
    [
        ("host:0", "port 0 is out of range 1-65535"),
        ("host:65536", "port 65536 is out of range 1-65535"),
        ("host:http", "port 'http' is not a number"),
        ("host:", "empty port"),
        ("host:-1", "not a number"),
        ("[2001:db8::1]:99999", "out of range"),
        ("2001:db8::1:5985", "ambiguous"),
        ("a:b:c", "not a valid IPv6"),
        ("[2001:db8::zz]", "not a valid IPv6"),
        ("[2001:db8::1", "unbalanced"),
        ("[fe80::1%eth0]", "zone IDs"),
        ("bad host", "spaces inside"),
        ("-dc01", "hyphen"),
        ("dc01-", "hyphen"),
        ("a..example.com", "empty label"),
        ("a" * 64 + ".example.com", "longer than 63"),
        (".".join(["a" * 60] * 5), "longer than 253"),
        ("dc_01", "'_'"),
        ("dc_01", "letters, digits, hyphens and dots"),
        # A pasted WinRM endpoint is named a URL, with the host to write instead (issue 19: it was
        # "is not a valid IPv6 address").
        ("https://web01.corp.example.com:5986/wsman", "is a URL, not a host: write web01.corp.example.com:5986"),
        ("http://10.0.0.5/wsman", "is a URL, not a host: write 10.0.0.5 ("),
        ("web01/wsman", "is a URL, not a host: write web01 ("),
        ("300.1.1.1", "not a valid IPv4"),
        ("10.1.1", "not a valid IPv4"),
        ("sérveur", "non-ASCII"),
    ],
)
def test_bad_entries_are_rejected_with_a_reason(tmp_path: Path, entry: str, reason_part: str) -> None:
    inv = _load(tmp_path, f"good01\n{entry}\n")
    assert _names(inv) == ["good01"]
    assert len(inv.errors) == 1
    error = inv.errors[0]
    assert error.line == 2
    assert reason_part in error.reason
    assert str(error) == f"{tmp_path / 'hosts.txt'}:2: {error.reason}"


def test_longest_valid_name_and_label_pass(tmp_path: Path) -> None:
    label63 = "a" * 63
    name253 = ".".join(["b" * 63] * 3 + ["c" * 61])  # 63*3 + 61 + 3 dots = 253
    assert len(name253) == 253
    inv = _load(tmp_path, f"{label63}\n{name253}\n")
    assert inv.errors == ()
    assert _names(inv) == [label63, name253]


def test_error_str_uses_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hosts.txt").write_text("ok\n" * 11 + "x:0\n", encoding="utf-8")
    inv = load_inventory(Path("hosts.txt"))
    assert [str(e) for e in inv.errors] == ["hosts.txt:12: port 0 is out of range 1-65535"]


# -- duplicates ----------------------------------------------------------------------------


def test_duplicates_are_case_insensitive_and_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # line 1 dc01, lines 2-3 blank, lines 4-39 other hosts, line 40 the duplicate
    content = "dc01\n\n\n" + "".join(f"h{i}\n" for i in range(36)) + "DC01:5986\n"
    (tmp_path / "hosts.txt").write_text(content, "utf-8")
    inv = load_inventory(Path("hosts.txt"))
    assert inv.errors == ()
    assert len(inv.hosts) == 37
    assert inv.hosts[-1].source == "hosts.txt:39"
    assert inv.hosts[0].name == "dc01"
    assert inv.hosts[0].port == 5986  # the first entry had no port: filled from the duplicate
    assert inv.warnings == ("hosts.txt:40: duplicate of line 1 (dc01), merged",)


def test_conflicting_duplicate_keeps_the_first_and_says_so(tmp_path: Path) -> None:
    inv = _load(tmp_path, "web01:5985\nWEB01:5986\n")
    assert [(h.name, h.port) for h in inv.hosts] == [("web01", 5985)]
    assert len(inv.warnings) == 1
    assert "duplicate of line 1 (web01), merged" in inv.warnings[0]
    assert "port 5985 (ignored 5986)" in inv.warnings[0]


# -- CSV -----------------------------------------------------------------------------------

CSV_TEXT = (
    "Host,Address,Role,Site,Group,Port,Transport,Scheme,Tags,Owner\n"
    "dc01,10.0.0.5,domain_controller,lon,tier0,5986,Kerberos,HTTPS,critical; pci ;,alice\n"
    "web01,,iis,par,,,,,,\n"
    "sql01,[2001:db8::5],sql,lon\n"
)


def test_csv_columns_map_to_host_fields(tmp_path: Path) -> None:
    path = _write(tmp_path, CSV_TEXT, "hosts.csv")
    inv = load_inventory(path)
    assert inv.errors == ()
    assert inv.hosts == (
        Host(
            name="dc01",
            address="10.0.0.5",
            port=5986,
            transport="kerberos",
            scheme="https",
            role="domain_controller",
            site="lon",
            group="tier0",
            tags=("critical", "pci"),
            source=f"{path}:2",
        ),
        Host(name="web01", address="web01", role="iis", site="par", source=f"{path}:3"),
        Host(name="sql01", address="2001:db8::5", role="sql", site="lon", source=f"{path}:4"),
    )
    assert inv.warnings == (f"{path}:1: unknown column 'Owner' ignored",)


@pytest.mark.parametrize(
    ("row", "reason_part"),
    [
        (",10.0.0.9", "host cell is empty"),
        ("x1,,,,,0", "port 0 is out of range"),
        ("x1,,,,,,winrm", "transport 'winrm' is not one of ntlm, basic, kerberos, credssp, certificate"),
        ("x1,,,,,,,ftp", "scheme 'ftp' is not one of http, https"),
        ("x1,bad host", "spaces inside"),
        ("x 1", "spaces inside"),
        ("x1,host:5985", "port column"),
        ("x1,,,,,,,,,,extra", "11 cells but the header has 9 columns"),
        ('x1,"unterminated', "bad CSV"),
    ],
)
def test_csv_bad_rows(tmp_path: Path, row: str, reason_part: str) -> None:
    header = "host,address,role,site,group,port,transport,scheme,tags\n"
    inv = _load(tmp_path, header + "ok1\n" + row + "\n", "hosts.csv")
    assert _names(inv) == ["ok1"]
    assert len(inv.errors) == 1 and inv.errors[0].line == 3
    assert reason_part in inv.errors[0].reason


def test_csv_header_after_comments_and_short_rows(tmp_path: Path) -> None:
    inv = _load(tmp_path, "# exported from CMDB\n\nname_ignored,HOST\nfoo,dc01\n,web01\n", "hosts.csv")
    assert _names(inv) == ["dc01", "web01"]
    assert inv.warnings[0].endswith(":3: unknown column 'name_ignored' ignored")


def test_csv_duplicates_merge_fields(tmp_path: Path) -> None:
    inv = _load(tmp_path, "host,role,site,tags\ndc01,,lon,a\nDC01,dc,par,b;a\n", "hosts.csv")
    assert len(inv.hosts) == 1
    host = inv.hosts[0]
    assert (host.role, host.site, host.tags) == ("dc", "lon", ("a", "b"))
    assert "site lon (ignored par)" in inv.warnings[0]


def test_semicolon_csv_as_excel_writes_it_on_german_and_french_systems(tmp_path: Path) -> None:
    # Excel's "CSV (Trennzeichen-getrennt)" uses the list separator ';' where ',' is the decimal mark.
    path = _write(tmp_path, b"\xef\xbb\xbfHost;Role;Site;Tags\r\ndc01;dc;fra;\"a;b\"\r\nweb01;iis;par;\r\n", "hosts.csv")
    inv = load_inventory(path)
    assert inv.errors == () and inv.warnings == ()
    assert inv.hosts == (
        Host(name="dc01", address="dc01", role="dc", site="fra", tags=("a", "b"), source=f"{path}:2"),
        Host(name="web01", address="web01", role="iis", site="par", source=f"{path}:3"),
    )


@pytest.mark.parametrize(
    ("content", "separator"),
    [
        ("name,role\nweb01,iis\ndc01,dc\n", "','"),  # a header without a host column
        ("name;role;site\nweb01;iis;par\n", "';'"),
        ("# CMDB export\nweb01,10.0.0.1,iis\ndc01,10.0.0.2,dc\n", "','"),  # a CSV without a header row
    ],
)
def test_csv_without_a_host_column_is_one_clear_error(tmp_path: Path, content: str, separator: str) -> None:
    path = _write(tmp_path, content, "hosts.csv")
    inv = load_inventory(path)
    assert inv.hosts == ()
    first = inv.errors[0]
    header_line = 2 if content.startswith("#") else 1
    assert str(first).startswith(f"{path}:{header_line}: ")
    assert "looks like a CSV header row" in first.reason and separator in first.reason
    assert "'host' column" in first.reason
    # Not one "has the character" error per line: the rows are not read as host names.
    assert [e.line for e in inv.errors] == [header_line, None]
    assert not any("has the character" in e.reason for e in inv.errors)


def test_a_comment_with_commas_does_not_make_a_plain_list_csv(tmp_path: Path) -> None:
    inv = _load(tmp_path, "web01  # IIS, SQL; Paris\ndc01\n")
    assert inv.errors == () and _names(inv) == ["web01", "dc01"]


def test_a_comment_naming_host_after_a_separator_does_not_make_a_header(tmp_path: Path) -> None:
    # "# web; host" is a comment: the header check must not see "host" as a ';'-separated cell.
    inv = _load(tmp_path, "web01  # web; host\ndc01\n")
    assert inv.errors == () and inv.warnings == () and _names(inv) == ["web01", "dc01"]


def test_a_first_entry_with_a_separator_stops_the_file_only_when_the_next_line_has_it(tmp_path: Path) -> None:
    # '#' right after the name is not a comment, so line 1 is one bad entry holding ','; the next
    # lines have no ',' so this is a plain list, not a CSV without a host column.
    path = _write(tmp_path, "web01# web,db\n\n# note\ndc01\nsql01\n")
    inv = load_inventory(path)
    assert _names(inv) == ["dc01", "sql01"]
    assert [e.line for e in inv.errors] == [1]
    assert "looks like a CSV header row" not in inv.errors[0].reason
    assert str(inv.errors[0]).startswith(f"{path}:1: ")


def test_a_lone_first_entry_with_a_separator_is_a_bad_entry(tmp_path: Path) -> None:
    inv = _load(tmp_path, "web01,dc01\n")
    assert inv.hosts == ()
    assert [e.line for e in inv.errors] == [1, None]
    assert "','" in inv.errors[0].reason and "looks like a CSV header row" not in inv.errors[0].reason


def test_semicolon_csv_with_an_unquoted_tags_cell_says_to_quote_it(tmp_path: Path) -> None:
    inv = _load(tmp_path, "host;role;tags\ndc01;dc;a;b\nweb01;iis;\"a;b\"\n", "hosts.csv")
    assert _names(inv) == ["web01"] and inv.hosts[0].tags == ("a", "b")
    assert [e.line for e in inv.errors] == [2]
    reason = inv.errors[0].reason
    assert reason.startswith("4 cells but the header has 3 columns") and "quote" in reason and '"a;b"' in reason


def test_comma_csv_extra_cells_get_no_quoting_hint(tmp_path: Path) -> None:
    inv = _load(tmp_path, "host,role,tags\ndc01,dc,a,b\n", "hosts.csv")
    assert [e.line for e in inv.errors] == [2, None]
    assert inv.errors[0].reason == "4 cells but the header has 3 columns"


def test_a_first_host_named_host_is_not_lost_silently(tmp_path: Path) -> None:
    path = _write(tmp_path, "host\nweb01\n")
    inv = load_inventory(path)
    # One column headed "host" is a valid CSV, so the line stays a header, but the user is told...
    assert _names(inv) == ["web01"]
    assert len(inv.warnings) == 1 and inv.warnings[0].startswith(f"{path}:1: 'host' read as the header")
    # ...and how to list a computer named host: with the trailing dot of an absolute name.
    inv2 = _load(tmp_path, "host.\nweb01\n")
    assert _names(inv2) == ["host", "web01"] and inv2.warnings == () and inv2.errors == ()


# -- hostile files -------------------------------------------------------------------------


def test_bom_and_crlf(tmp_path: Path) -> None:
    inv = _load(tmp_path, b"\xef\xbb\xbfhost,role\r\ndc01,dc\r\nweb01,iis\r\n", "hosts.csv")
    assert inv.errors == ()
    assert [(h.name, h.role) for h in inv.hosts] == [("dc01", "dc"), ("web01", "iis")]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_read(tmp_path: Path, encoding: str) -> None:
    inv = _load(tmp_path, "\ufeffdc01\r\nweb01\r\n".encode(encoding))
    assert _names(inv) == ["dc01", "web01"]
    assert inv.errors == ()


def test_nul_non_utf8_and_control_characters_skip_only_their_line(tmp_path: Path) -> None:
    inv = _load(tmp_path, b"dc01\nw\x00eb\nbad\xff\xfename\nx\x1b[31m\nweb02\n")
    assert _names(inv) == ["dc01", "web02"]
    reasons = _reasons(inv)
    assert set(reasons) == {2, 3, 4}
    assert "NUL" in reasons[2]
    assert "not valid UTF-8 at byte 4" in reasons[3]
    assert "bad\ufffd\ufffdname" in reasons[3]  # shown with replacement characters
    assert "U+001B" in reasons[4]
    assert "\x1b" not in str(inv.errors[2])  # the message itself carries no raw control character


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\ufeff", "\x85"])
def test_invisible_characters_in_csv_cells_skip_the_line(tmp_path: Path, char: str) -> None:
    inv = _load(tmp_path, f"host,role\ndc01,dc\nweb01,ii{char}s\n", "hosts.csv")
    assert _names(inv) == ["dc01"]
    assert f"U+{ord(char):04X}" in _reasons(inv)[3]


def test_ten_megabyte_line_is_skipped(tmp_path: Path) -> None:
    inv = _load(tmp_path, b"dc01\n" + b"A" * (10 * 1024 * 1024) + b"\nweb01\n")
    assert _names(inv) == ["dc01", "web01"]
    assert _reasons(inv) == {2: f"line is longer than {MAX_LINE_BYTES} bytes; skipped"}


def test_ten_megabyte_last_line_without_newline(tmp_path: Path) -> None:
    inv = _load(tmp_path, b"dc01\n" + b"B" * (10 * 1024 * 1024))
    assert _names(inv) == ["dc01"]
    assert list(_reasons(inv)) == [2]


def test_line_at_the_cap_is_read(tmp_path: Path) -> None:
    # A valid CSV row padded with an unknown column up to exactly the cap, CRLF-terminated.
    row = "dc01,"
    row += "x" * (MAX_LINE_BYTES - len(row))
    inv = _load(tmp_path, f"host,notes\r\n{row}\r\n".encode(), "hosts.csv")
    assert _names(inv) == ["dc01"]
    assert inv.errors == ()


def test_hundred_thousand_lines(tmp_path: Path) -> None:
    content = "".join(f"host{i:06d}.corp.example.com:5985\n" for i in range(100_000))
    inv = _load(tmp_path, content)
    assert len(inv.hosts) == 100_000
    assert inv.hosts[-1].name == "host099999.corp.example.com"
    assert inv.errors == ()


@pytest.mark.parametrize("content", ["", "\n\n", "# only comments\n", "bad host\n"])
def test_no_hosts_is_an_error(tmp_path: Path, content: str) -> None:
    inv = _load(tmp_path, content)
    assert inv.hosts == ()
    assert inv.errors[-1] == InventoryError(str(tmp_path / "hosts.txt"), None, "no hosts found")
    assert str(inv.errors[-1]) == f"{tmp_path / 'hosts.txt'}: no hosts found"


def test_missing_file_and_directory_raise_inventory_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError) as missing:
        load_inventory(tmp_path / "nope.txt")
    assert str(missing.value) == f"{tmp_path / 'nope.txt'}: no such file"
    with pytest.raises(InventoryError) as directory:
        load_inventory(tmp_path)
    assert "is a directory" in str(directory.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "dc01\n")
    path.chmod(0)
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(path)


def test_reads_from_a_pipe(tmp_path: Path) -> None:
    # bash's <(...) hands over a pipe: no seeking back after sniffing the BOM.
    fifo = tmp_path / "hosts.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as out:
            out.write(b"\xef\xbb\xbfdc01\nweb01:5986\n")

    writer = threading.Thread(target=feed)
    writer.start()
    inv = load_inventory(fifo)
    writer.join()
    assert [(h.name, h.port) for h in inv.hosts] == [("dc01", None), ("web01", 5986)]


def test_a_url_in_the_csv_address_column_says_where_the_port_goes(tmp_path: Path) -> None:
    inv = _load(tmp_path, "host,address\nweb01,http://10.0.0.5:5985/wsman\n", name="hosts.csv")
    assert "is a URL, not a host: write 10.0.0.5 and 5985 in the port column" in _reasons(inv)[2]
