"""The four collection configurations, rendered to text: WEF, Splunk, Sentinel (DCR), Winlogbeat.

Each renderer returns {relative path: text}; nothing here writes. The formats follow their public
documentation (docs/forwarding.md lists each source):
- WEF: a source-initiated subscription (wecutil cs) whose Query holds a QueryList with one Select of
  Security 4688 and one Suppress per noise filter; Palantir's Process-Execution.xml is the shape.
- Splunk: [WinEventLog://Security] with renderXml as the priced profile, whitelist = 4688 and one
  blacklistN per filter ($XmlRegex for XML, EventCode/Message for classic); serverclass.conf per wave.
- Sentinel: an ARM template with one Microsoft.Insights/dataCollectionRules per wave whose
  windowsEventLogs xPathQueries keep 4688 less the filtered events (a DCR has no Suppress).
- Winlogbeat: winlogbeat.event_logs Security with event_id 4688 and a drop_event per filter.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any, Final

import yaml

from auditplan.emit.forwarding.filters import (
    NoiseFilter,
    splunk_message_regex,
    splunk_xml_regex,
    winlogbeat_condition,
    xpath_drop,
    xpath_keep,
)
from auditplan.emit.forwarding.wave_set import (
    GROUP_SID_TOKEN,
    WEF_HEARTBEAT_MS,
    WEF_LATENCY_MS,
    WaveSet,
)

FORMATS: Final = ("wef", "splunk", "sentinel", "winlogbeat")
SUBSCRIPTION_NS: Final = "http://schemas.microsoft.com/2006/03/windows/events/subscription"
SPLUNK_APP: Final = "auditplan_4688_inputs"
SELECT_4688: Final = "*[System[(EventID=4688)]]"
DCR_API_VERSION: Final = "2022-06-01"


def query_list(filters: Sequence[NoiseFilter]) -> str:
    """The WEF QueryList: Security 4688, less one Suppress per filter."""
    root = ET.Element("QueryList")
    query = ET.SubElement(root, "Query", Id="0", Path="Security")
    ET.SubElement(query, "Select", Path="Security").text = SELECT_4688
    for f in filters:
        ET.SubElement(query, "Suppress", Path="Security").text = xpath_drop(f)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode")


def wef_subscription(wave: WaveSet, filters: Sequence[NoiseFilter]) -> str:
    """A source-initiated subscription of the wave's group (its SID filled in by wef/install.ps1)."""
    ET.register_namespace("", SUBSCRIPTION_NS)

    def el(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{SUBSCRIPTION_NS}}}{name}", attrs)
        if text is not None:
            node.text = text
        return node

    root = ET.Element(f"{{{SUBSCRIPTION_NS}}}Subscription")
    el(root, "SubscriptionId", wave.slug)
    el(root, "SubscriptionType", "SourceInitiated")
    el(root, "Description", f"auditplan: Security 4688 (process creation) from wave {wave.number} ({wave.name}), "
                            f"group {wave.group}")
    el(root, "Enabled", "true")
    el(root, "Uri", "http://schemas.microsoft.com/wbem/wsman/1/windows/EventLog")
    el(root, "ConfigurationMode", "Custom")
    delivery = el(root, "Delivery", Mode="Push")
    batching = el(delivery, "Batching")
    el(batching, "MaxItems", str(wave.wef_max_items))
    el(batching, "MaxLatencyTime", str(WEF_LATENCY_MS))
    push = el(delivery, "PushSettings")
    el(push, "Heartbeat", Interval=str(WEF_HEARTBEAT_MS))
    el(root, "Query", query_list(filters))
    # Only events written from now on: the hosts' Security logs may hold days of other events.
    el(root, "ReadExistingEvents", "false")
    el(root, "TransportName", "HTTP")
    # "Events" (binary XML) rather than RenderedText: Microsoft says rendering doubles or triples the size.
    el(root, "ContentFormat", "Events")
    el(root, "Locale", Language="en-US")
    el(root, "LogFile", "ForwardedEvents")
    el(root, "PublisherName", "Microsoft-Windows-EventCollector")
    el(root, "AllowedSourceNonDomainComputers")
    # Generic All for the wave's group only; install.ps1 replaces the token with the group's SID.
    el(root, "AllowedSourceDomainComputers", f"O:NSG:BAD:P(A;;GA;;;{GROUP_SID_TOKEN})S:")
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    queries = query_list(filters)
    if "]]>" not in queries:
        # As wecutil gs /f:xml shows it: the QueryList in a CDATA section, readable (the same XML).
        node = root.find(f"{{{SUBSCRIPTION_NS}}}Query")
        assert node is not None  # added above
        escaped = ET.tostring(node, encoding="unicode").split(">", 1)[1]
        escaped = escaped.rsplit("</", 1)[0]
        text = text.replace(escaped, f"<![CDATA[\n{queries}\n]]>", 1)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n"


def _ps_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def wef_files(waves: Sequence[WaveSet], filters: Sequence[NoiseFilter]) -> dict[str, str]:
    files = {f"wef/{w.slug}.xml": wef_subscription(w, filters) for w in waves}
    lines = [
        "# auditplan: create or update the WEF subscription of each wave on the collector (run as an",
        "# administrator on the WEC server, with the ActiveDirectory module). Each wave's group is the one",
        "# `auditplan gpo`'s rollout.ps1 creates; its SID goes into the subscription's",
        "# AllowedSourceDomainComputers. Run it again after each wave is rolled out: a wave whose group",
        "# does not exist yet is skipped.",
        "param([int]$ThroughWave = 999)",
        "$ErrorActionPreference = 'Stop'",
        "wecutil qc /q",
    ]
    commands = ["wecutil qc /q"]
    for w in waves:
        lines += [
            f"if ({w.number} -le $ThroughWave) {{",
            f"  $group = Get-ADGroup -Filter \"Name -eq '{w.group}'\"",
            f"  if ($null -eq $group) {{ Write-Warning "
            f"{_ps_quote(f'group {w.group} not found: wave {w.number} skipped')} }}",
            "  else {",
            f"    $xml = Get-Content -Raw -Encoding UTF8 (Join-Path $PSScriptRoot {_ps_quote(w.slug + '.xml')})",
            f"    $path = Join-Path $env:TEMP {_ps_quote(w.slug + '.xml')}",
            f"    Set-Content -Encoding UTF8 -Path $path -Value $xml.Replace({_ps_quote(GROUP_SID_TOKEN)}, "
            "$group.SID.Value)",
            f"    wecutil gs {w.slug} *> $null",
            f"    if ($LASTEXITCODE -eq 0) {{ wecutil ss {w.slug} /c:$path }} else {{ wecutil cs $path }}",
            "    Remove-Item $path",
            "  }",
            "}",
        ]
        commands += [f"wecutil cs {w.slug}.xml   # first time (after replacing {GROUP_SID_TOKEN})",
                     f"wecutil ss {w.slug} /c:{w.slug}.xml   # later changes"]
    files["wef/install.ps1"] = "\n".join(lines) + "\n"
    files["wef/commands.txt"] = "\n".join(commands) + "\n"
    return files


def _conf_value(text: str) -> str:
    # One line per setting: a conf value cannot hold a line break (none of ours can; refuse loudly).
    if "\n" in text or "\r" in text:
        raise ValueError("a .conf value holds a line break")
    return text


def splunk_inputs(filters: Sequence[NoiseFilter], *, render_xml: bool) -> str:
    lines = [
        "# auditplan: Security 4688 (process creation) for the noise-filtered rollout.",
        "# If another app (e.g. Splunk_TA_windows) already has a [WinEventLog://Security] stanza, Splunk",
        "# merges the two: copy the whitelist/blacklist lines there instead of deploying this app.",
        "[WinEventLog://Security]",
        "disabled = 0",
        f"renderXml = {'true' if render_xml else 'false'}",
        "evt_resolve_ad_obj = 0",
        "whitelist = 4688",
    ]
    if not render_xml:
        lines.append("suppress_text = 0")
    for i, f in enumerate(filters, 1):
        lines.append(f"# filter {i}: {_conf_value(f.label())}")
        if render_xml:
            lines.append(f'blacklist{i} = $XmlRegex="{_conf_value(splunk_xml_regex(f))}"')
        else:
            lines.append(f'blacklist{i} = EventCode="4688" Message="{_conf_value(splunk_message_regex(f))}"')
    return "\n".join(lines) + "\n"


def splunk_files(waves: Sequence[WaveSet], filters: Sequence[NoiseFilter], *, render_xml: bool) -> dict[str, str]:
    if len(filters) > 9:
        # inputs.conf numbers blacklists 1..9 only.
        raise ValueError(f"{len(filters)} filters: a Splunk WinEventLog input takes at most 9 blacklists")
    inputs = splunk_inputs(filters, render_xml=render_xml)
    app = "\n".join([
        "[install]", "state = enabled", "", "[ui]", "is_visible = false", "label = auditplan 4688 inputs", "",
        "[launcher]", "author = auditplan", "description = Security 4688 inputs with measured noise filters",
        "version = 1.0.0", "",
    ])
    server = []
    for w in waves:
        server.append(f"[serverClass:{w.slug.replace('-', '_')}]")
        server += [f"whitelist.{i} = {host}" for i, host in enumerate(w.hosts)]
        server += ["", f"[serverClass:{w.slug.replace('-', '_')}:app:{SPLUNK_APP}]", "restartSplunkd = true",
                   "stateOnClient = enabled", ""]
    return {
        "splunk/inputs.conf": inputs,
        f"splunk/{SPLUNK_APP}/default/inputs.conf": inputs,
        f"splunk/{SPLUNK_APP}/default/app.conf": app,
        "splunk/serverclass.conf": "\n".join(server),
    }


def dcr_template(waves: Sequence[WaveSet], filters: Sequence[NoiseFilter]) -> dict[str, Any]:
    query = "Security!" + (xpath_keep(filters) if filters else SELECT_4688)
    resources = []
    for w in waves:
        resources.append({
            "type": "Microsoft.Insights/dataCollectionRules",
            "apiVersion": DCR_API_VERSION,
            "name": w.slug,
            "location": "[parameters('location')]",
            "kind": "Windows",
            "properties": {
                "description": f"auditplan: Security 4688 from wave {w.number} ({w.name}): {len(w.hosts)} host(s)",
                "dataSources": {"windowsEventLogs": [{
                    "name": f"auditplan4688wave{w.number:02d}",
                    "streams": ["Microsoft-SecurityEvent"],
                    "xPathQueries": [query],
                }]},
                "destinations": {"logAnalytics": [{"name": "workspace",
                                                   "workspaceResourceId": "[parameters('workspaceResourceId')]"}]},
                "dataFlows": [{"streams": ["Microsoft-SecurityEvent"], "destinations": ["workspace"]}],
            },
        })
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "workspaceResourceId": {"type": "string",
                                    "metadata": {"description": "Resource ID of the Log Analytics workspace"}},
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
        },
        "resources": resources,
        "outputs": {},
    }


def sentinel_files(waves: Sequence[WaveSet], filters: Sequence[NoiseFilter]) -> dict[str, str]:
    hosts = {w.slug: list(w.hosts) for w in waves}
    return {
        "sentinel/dcr.json": json.dumps(dcr_template(waves, filters), indent=2) + "\n",
        # Which machines each wave's DCR is to be associated with (a dataCollectionRuleAssociation per
        # machine needs its Azure resource ID, which auditplan does not know).
        "sentinel/associations.json": json.dumps(hosts, indent=2) + "\n",
    }


def winlogbeat_files(waves: Sequence[WaveSet], filters: Sequence[NoiseFilter]) -> dict[str, str]:
    log: dict[str, Any] = {"name": "Security", "event_id": 4688, "ignore_older": "72h"}
    if filters:
        log["processors"] = [{"drop_event": {"when": winlogbeat_condition(f)}} for f in filters]
    doc = {"winlogbeat.event_logs": [log]}
    header = ("# auditplan: Security 4688 for Winlogbeat (deploy to the hosts of each wave as it is rolled out;\n"
              "# the hosts per wave are in README.md). Add your output.* section.\n")
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return {"winlogbeat/winlogbeat.yml": header + body}
