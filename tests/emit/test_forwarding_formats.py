"""Each forwarding format read back by software nobody here wrote, against real 4688 events.

- Splunk: addonfactory-splunk-conf-parser-lib parses the .conf files; every blacklist regex runs in
  GNU grep's PCRE engine over real event XML rendered on one line (as renderXml gives it).
- Sentinel: the ARM template is JSON (json); its XPath keep-query is evaluated on real events.
- Winlogbeat: the YAML loader reads winlogbeat.yml; its drop conditions are applied to real events.
- WEF: the subscription is XML with Microsoft's element names; its QueryList is parsed and every
  Select/Suppress XPath is evaluated by the simulator's event XPath engine and by lxml on
  namespace-stripped real event XML; the SDDL (its SID filled in) parses in Samba's SDDL parser.

What each filter should drop is computed here from the events' own fields, not by the code under test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import forwarding_fixtures as ff  # tests/emit/, on sys.path under pytest's default import mode
import pytest
import tree_sitter_powershell
import yaml
from addonfactory_splunk_conf_parser_lib import TABConfigParser
from lxml import etree
from tree_sitter import Language, Node, Parser

from auditplan.emit.forwarding.filters import NoiseFilter
from auditplan.emit.forwarding.formats import (
    SUBSCRIPTION_NS,
    sentinel_files,
    splunk_files,
    wef_files,
    winlogbeat_files,
)
from auditplan.emit.forwarding.wave_set import GROUP_SID_TOKEN, WaveSet
from auditplan.simulator.xpath import EventFilter, EvNode

DATA = Path(__file__).resolve().parents[1] / "data"
CC0_4688 = [*sorted(DATA.glob("mdec__ID4688-*.evtx")), DATA / "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"]
SYSTEM_PYTHON = Path("/usr/bin/python3")
WAVES = [WaveSet(number=n, name="pilot" if n == 0 else f"wave {n}", hosts=(f"host{n}a", f"host{n}b"),
                 group=f"auditplan-4688-wave-{n:02d}", slug=f"auditplan-4688-wave-{n:02d}", eps_mean_p50=1.0,
                 eps_peak_p90=2.0, cumulative_eps_mean_p50=1.0 + n, cumulative_eps_peak_p90=2.0 + 2 * n,
                 host_peak_eps_max=0.5, gb_day_p50=0.1, gb_day_p90=0.2) for n in range(2)]


@pytest.fixture(scope="module")
def events() -> list[tuple[str, ET.Element]]:
    """(event XML, namespace-stripped root) of every 4688 in the CC0/MIT test EVTX files."""
    xmls = ff.real_4688_xml(CC0_4688)
    assert len(xmls) > 30
    return [(x, ff.strip_namespaces(x)) for x in xmls]


def _filters(events: list[tuple[str, ET.Element]]) -> list[NoiseFilter]:
    """The two commonest real (NewProcessName, ParentProcessName) pairs, one of them with its user too,
    and one pair written in another case (Windows paths are case-insensitive)."""
    counts: dict[tuple[str, str, str], int] = {}
    for _, root in events:
        d = ff.event_data(root)
        if d.get("NewProcessName") and d.get("ParentProcessName"):
            key = (d["NewProcessName"], d["ParentProcessName"], d.get("SubjectUserName", ""))
            counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts, key=lambda k: -counts[k])
    (n1, p1, _), (n2, p2, u2) = ranked[0], next(k for k in ranked[1:] if k[0] != ranked[0][0])
    return [NoiseFilter.of({"NewProcessName": n1, "ParentProcessName": p1}),
            NoiseFilter.of({"SubjectUserName": u2, "NewProcessName": n2, "ParentProcessName": p2}),
            NoiseFilter.of({"NewProcessName": n1.upper(), "ParentProcessName": p1.lower()})]


def _expected(root: ET.Element, f: NoiseFilter, *, exact: bool) -> bool:
    d = ff.event_data(root)
    if exact:
        return all(d.get(k) == v for k, v in f.fields.items())
    return all(d.get(k, "").casefold() == v.casefold() for k, v in f.fields.items())


def _ev_node(el: ET.Element) -> EvNode:
    return EvNode(el.tag, attrs=dict(el.attrib), text=(el.text or "").strip() if not len(el) else "",
                  children=[_ev_node(c) for c in el])


def _simulator_matches(query: str, root: ET.Element) -> bool:
    return EventFilter(query, now_ticks=0).matches(_ev_node(root), 0, 1)


def _lxml_matches(query: str, root: ET.Element) -> bool:
    node = etree.fromstring(ET.tostring(root))
    assert query.startswith("*[")
    return bool(node.xpath("self::" + query))


# -- WEF -----------------------------------------------------------------------------------------------


def test_wef_subscription_and_its_queries_drop_exactly_the_filtered_events(events: list[tuple[str, ET.Element]]) -> None:
    filters = _filters(events)
    files = wef_files(WAVES, filters)
    sub = ET.fromstring(files["wef/auditplan-4688-wave-01.xml"].encode())
    ns = {"s": SUBSCRIPTION_NS}
    assert sub.tag == f"{{{SUBSCRIPTION_NS}}}Subscription"
    names = [c.tag.split("}", 1)[1] for c in sub]
    # The elements of a source-initiated subscription, in the order wecutil gs /f:xml prints them.
    assert names == ["SubscriptionId", "SubscriptionType", "Description", "Enabled", "Uri", "ConfigurationMode",
                     "Delivery", "Query", "ReadExistingEvents", "TransportName", "ContentFormat", "Locale",
                     "LogFile", "PublisherName", "AllowedSourceNonDomainComputers", "AllowedSourceDomainComputers"]
    assert sub.findtext("s:SubscriptionType", namespaces=ns) == "SourceInitiated"
    assert sub.find("s:Delivery", ns).get("Mode") == "Push"  # type: ignore[union-attr]
    assert int(sub.findtext("s:Delivery/s:Batching/s:MaxItems", namespaces=ns) or 0) >= 5
    assert sub.findtext("s:ContentFormat", namespaces=ns) == "Events"
    query_list = ET.fromstring((sub.findtext("s:Query", namespaces=ns) or "").strip())
    assert query_list.tag == "QueryList"
    (query,) = query_list.findall("Query")
    assert query.get("Path") == "Security"
    selects = [s.text or "" for s in query.findall("Select")]
    suppresses = [s.text or "" for s in query.findall("Suppress")]
    assert len(selects) == 1 and len(suppresses) == len(filters)
    for engine in (_simulator_matches, _lxml_matches):
        for _, root in events:
            kept = engine(selects[0], root) and not any(engine(q, root) for q in suppresses)
            dropped_exact = any(_expected(root, f, exact=True) for f in filters)
            dropped_any_case = any(_expected(root, f, exact=False) for f in filters)
            # Exact XPath equality drops at least what exact equality does, and never more than the
            # case-insensitive equality the detection check evaluates.
            assert kept == (not dropped_exact) or (not kept and dropped_any_case), engine.__name__
    assert sum(not _lxml_matches(selects[0], r) or any(_lxml_matches(q, r) for q in suppresses)
               for _, r in events) > 0


def test_wef_sddl_parses_in_samba_with_the_group_sid_filled_in() -> None:
    text = wef_files(WAVES, [])["wef/auditplan-4688-wave-00.xml"]
    sddl = ET.fromstring(text.encode()).findtext(f"{{{SUBSCRIPTION_NS}}}AllowedSourceDomainComputers") or ""
    assert GROUP_SID_TOKEN in sddl
    sid = "S-1-5-21-1004336348-1177238915-682003330-1234"
    if not SYSTEM_PYTHON.exists() or subprocess.run([str(SYSTEM_PYTHON), "-c", "import samba.dcerpc.security"],
                                                    capture_output=True).returncode:
        if os.environ.get("CI"):
            pytest.fail("python3-samba is not installed: tests/setup.sh installs it")
        pytest.skip("Debian's python3-samba is not installed")
    code = ("import sys; from samba.dcerpc import security; "
            "d = security.descriptor.from_sddl(sys.argv[1], security.dom_sid('S-1-5-21-1-2-3')); "
            "print(d.as_sddl()); print([str(a.trustee) for a in d.dacl.aces])")
    out = subprocess.run([str(SYSTEM_PYTHON), "-c", code, sddl.replace(GROUP_SID_TOKEN, sid)], capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    assert f"(A;;GA;;;{sid})" in out and f"['{sid}']" in out


def _ps_errors(node: Node) -> list[str]:
    found = [str(node.text)[:80]] if node.type == "ERROR" or node.is_missing else []
    for child in node.children:
        found += _ps_errors(child)
    return found


def test_wef_install_script_parses_as_powershell() -> None:
    files = wef_files(WAVES, [])
    tree = Parser(Language(tree_sitter_powershell.language())).parse(files["wef/install.ps1"].encode())
    assert _ps_errors(tree.root_node) == []
    assert "wecutil cs auditplan-4688-wave-01.xml" in files["wef/commands.txt"]


# -- Splunk --------------------------------------------------------------------------------------------


def _conf(text: str) -> TABConfigParser:
    parser = TABConfigParser()
    parser.read_string(text)
    return parser


def _items(parser: TABConfigParser, section: str) -> dict[str, str]:
    return {k: v for k, v in parser.items(section) if k != "__name__"}  # the parser adds the stanza name


def _grep_p(regex: str, lines: list[str]) -> set[int]:
    """Line numbers (0-based) GNU grep's PCRE engine matches; a regex PCRE rejects fails the test."""
    run = subprocess.run(["grep", "-nP", "-e", regex], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
    assert run.returncode in (0, 1), run.stderr
    return {int(line.split(":", 1)[0]) - 1 for line in run.stdout.splitlines()}


def test_splunk_conf_files_parse_and_blacklists_drop_the_filtered_events(events: list[tuple[str, ET.Element]]) -> None:
    filters = _filters(events)
    files = splunk_files(WAVES, filters, render_xml=True)
    inputs = _conf(files["splunk/inputs.conf"])
    assert inputs.sections() == ["WinEventLog://Security"]
    stanza = _items(inputs, "WinEventLog://Security")
    assert stanza["renderXml"] == "true" and stanza["whitelist"] == "4688" and stanza["disabled"] == "0"
    assert files["splunk/inputs.conf"] == files["splunk/auditplan_4688_inputs/default/inputs.conf"]
    assert _items(_conf(files["splunk/auditplan_4688_inputs/default/app.conf"]), "install")["state"] == "enabled"
    server = _conf(files["splunk/serverclass.conf"])
    assert _items(server, "serverClass:auditplan_4688_wave_01") == {"whitelist.0": "host1a", "whitelist.1": "host1b"}
    assert server.has_section("serverClass:auditplan_4688_wave_00:app:auditplan_4688_inputs")
    # Splunk's XmlWinEventLog is the event's XML on one line.
    lines = [re.sub(r">\s+<", "><", x.strip()) for x, _ in events]
    for i, f in enumerate(filters, 1):
        value = stanza[f"blacklist{i}"]
        match = re.fullmatch(r'\$XmlRegex="(.*)"', value)
        assert match, value
        hits = _grep_p(match.group(1), lines)
        want = {n for n, (_, root) in enumerate(events) if _expected(root, f, exact=False)}
        assert hits == want and want, f.label()


def test_splunk_classic_blacklists_compile_in_pcre(events: list[tuple[str, ET.Element]]) -> None:
    files = splunk_files(WAVES, _filters(events), render_xml=False)
    stanza = _items(_conf(files["splunk/inputs.conf"]), "WinEventLog://Security")
    assert stanza["renderXml"] == "false"
    message = ("A new process has been created.\r\n\r\nCreator Subject:\r\n\tSecurity ID:\t\tS-1-5-18\r\n"
               "\tAccount Name:\t\tX\r\n\r\nProcess Information:\r\n\tNew Process Name:\tC:\\a.exe\r\n")
    for key in [k for k in stanza if k.startswith("blacklist")]:
        match = re.fullmatch(r'EventCode="4688" Message="(.*)"', stanza[key])
        assert match
        _grep_p(match.group(1), [message.replace("\r\n", " ")])


# -- Sentinel and Winlogbeat -----------------------------------------------------------------------------


def test_sentinel_dcr_keeps_exactly_the_unfiltered_events(events: list[tuple[str, ET.Element]]) -> None:
    filters = _filters(events)[:2]  # the exact-case filters: Windows XPath compares text as written
    template = json.loads(sentinel_files(WAVES, filters)["sentinel/dcr.json"])
    rules = [r for r in template["resources"] if r["type"] == "Microsoft.Insights/dataCollectionRules"]
    assert [r["name"] for r in rules] == ["auditplan-4688-wave-00", "auditplan-4688-wave-01"]
    (source,) = rules[1]["properties"]["dataSources"]["windowsEventLogs"]
    assert source["streams"] == ["Microsoft-SecurityEvent"]
    (query,) = source["xPathQueries"]
    channel, xpath = query.split("!", 1)
    assert channel == "Security"
    for engine in (_simulator_matches, _lxml_matches):
        for _, root in events:
            assert engine(xpath, root) == (not any(_expected(root, f, exact=True) for f in filters)), engine.__name__


def _beats_condition(cond: dict[str, object], fields: dict[str, str]) -> bool:
    (op, arg), = cond.items()
    if op == "and":
        return all(_beats_condition(c, fields) for c in arg)  # type: ignore[attr-defined]
    assert op == "equals"
    (key, value), = arg.items()  # type: ignore[attr-defined]
    return bool(fields.get(key.removeprefix("winlog.event_data.")) == value)


def test_winlogbeat_yaml_drops_the_filtered_events(events: list[tuple[str, ET.Element]]) -> None:
    filters = _filters(events)[:2]
    doc = yaml.safe_load(winlogbeat_files(WAVES, filters)["winlogbeat/winlogbeat.yml"])
    (log,) = doc["winlogbeat.event_logs"]
    assert log["name"] == "Security" and log["event_id"] == 4688
    conditions = [p["drop_event"]["when"] for p in log["processors"]]
    assert len(conditions) == len(filters)
    for _, root in events:
        data = ff.event_data(root)
        dropped = any(_beats_condition(c, data) for c in conditions)
        assert dropped == any(_expected(root, f, exact=True) for f in filters)
