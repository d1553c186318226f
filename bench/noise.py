"""Time of `auditplan noise` (ranking, then the detection proof of each proposed filter) on a synthetic
store, beside one evaluation of the rules over the same sampled events (the baseline, same run).

Run: .venv/bin/python bench/noise.py [--hosts 2000] [--events 12]
Prints the times and their ratios; no assertion on time.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from auditplan.emit.api import evaluate_events, noise_report
from auditplan.model import api as model
from auditplan.records import EstimateSource, Host, HostEstimate, HostResult, HostStatus, Range, SampledEvent
from auditplan.store import Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)
S32 = "C:\\Windows\\System32\\"
PAIRS = [(S32 + name, S32 + parent, line) for name, parent, line in [
    ("svchost.exe", "services.exe", "svchost.exe -k netsvcs -p"), ("conhost.exe", "cmd.exe", "conhost.exe 0xffffffff"),
    ("dllhost.exe", "svchost.exe", "DllHost.exe /Processid:{AB}"), ("taskhostw.exe", "svchost.exe", "taskhostw.exe"),
    ("RuntimeBroker.exe", "svchost.exe", "RuntimeBroker.exe -Embedding"), ("wbem\\WmiPrvSE.exe", "svchost.exe", "x"),
    ("SearchProtocolHost.exe", "SearchIndexer.exe", "SearchProtocolHost.exe Global\\UsGthrFltPipeMssGthrPipe"),
    ("cscript.exe", "cmd.exe", "cscript //nologo check.vbs"), ("gpupdate.exe", "cmd.exe", "gpupdate /target:computer"),
    ("WindowsPowerShell\\v1.0\\powershell.exe", "cmd.exe", "powershell -w hidden -enc AA"),
]]
ROLES = ("web_server", "domain_controller", "member_server", "workstation")


def build(db: Path, hosts: int, per_host: int, rng: random.Random) -> None:
    weights = [40, 20, 12, 8, 6, 5, 4, 3, 1, 1]
    with Store(db) as store:
        estimates = []
        for i in range(hosts):
            name, role = f"h{i:05d}", ROLES[i % len(ROLES)]
            p50 = rng.uniform(500, 20000)
            estimates.append(HostEstimate(
                host=name, role=role, site="lon", os_family="2019", events_per_day=Range(p50 / 2, p50, p50 * 2),
                source=EstimateSource.MEASURED_4688, peak_hour_factor=2.0, hourly_shape=tuple([1 / 24] * 24),
                bytes_per_event_xml=1500.0, bytes_per_event_xml_no_cmdline=1400.0, cmdline_length_p50=80.0,
                bytes_source="dev_set", already_on=False, cmdline_already_on=False, cmdline_supported=True))
            events = tuple(SampledEvent(time=NOW, event_id=4688, version=2, new_process_name=image,
                                        parent_process_name=parent, subject_user_name="svc", command_line=line,
                                        size_bytes=1500)
                           for image, parent, line in rng.choices(PAIRS, weights, k=per_host))
            store.save_result(HostResult(host=Host(name=name, address=name, role=role), status=HostStatus.OK,
                                         reason="", collected_at=NOW, events=events))
        store.save_estimates("latest", estimates)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--events", type=int, default=12, help="sampled 4688s per host")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "auditplan.db"
        build(db, args.hosts, args.events, random.Random(7))
        with Store(db) as store:
            events = store.events_frame()
        start = time.perf_counter()
        evaluate_events(events, {})
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        model.noise(db)
        ranking = time.perf_counter() - start
        start = time.perf_counter()
        report = noise_report(db)
        whole = time.perf_counter() - start
    n = len(events)
    print(f"{args.hosts} hosts, {n} sampled 4688s; {len(report.proposals)} filters proposed, "
          f"{len(report.accepted)} accepted")
    print(f"baseline: one evaluation of the rules over the sample: {baseline:.2f} s")
    print(f"ranking (model.api.noise, with its projection): {ranking:.2f} s = {ranking / baseline:.1f}x the baseline")
    print(f"noise_report (ranking + proof of every proposal): {whole:.2f} s = {whole / baseline:.1f}x the baseline; "
          f"{(whole - ranking) / max(len(report.proposals), 1):.2f} s a filter")


if __name__ == "__main__":
    main()
