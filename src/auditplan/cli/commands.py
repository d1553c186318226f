"""Which module defines each command; LazyGroup (cli/__init__.py) imports it when the command runs.

Each module registers its command on `main` when imported.
"""

COMMAND_MODULES: dict[str, str] = {
    "demo": "auditplan.cli.demo",
    "detections": "auditplan.cli.detections",
    "estimate": "auditplan.cli.estimate",
    "forwarding": "auditplan.cli.forwarding",
    "gpo": "auditplan.cli.gpo",
    "ingest": "auditplan.cli.ingest",
    "merge": "auditplan.cli.merge",
    "noise": "auditplan.cli.noise",
    "plan": "auditplan.cli.plan",
    "project": "auditplan.cli.project",
    "report": "auditplan.cli.report",
    "simulate": "auditplan.cli.simulate",
    "survey": "auditplan.cli.survey",
}

# What `auditplan --help` lists for each command, so that listing them imports none (the help stays fast).
# A command missing here is imported for its own docstring's first sentence.
COMMAND_HELP: dict[str, str] = {
    "demo": "Run the whole pipeline on the built-in simulated fleet, in this process.",
    "detections": "The five targeted detection families as Sigma rules: list, evaluate, export.",
    "estimate": "Estimate 4688 events/day per host (p10/p50/p90) with the source of each estimate.",
    "forwarding": "Write each wave's collection configs (WEF, Splunk, Sentinel, Winlogbeat) with safe noise filters.",
    "gpo": "Write one Import-GPO-ready GPO backup per wave, with rollout, verify and rollback scripts.",
    "ingest": "Read exported .evtx files, such as Security.evtx, into the store as host results.",
    "merge": "Merge per-site stores into one new store: the newest result per host, estimates kept per store.",
    "noise": "Rank the processes that make the 4688 volume and propose suppressions no detection rule fires on.",
    "plan": "Plan rollout waves under a SIEM budget: a pilot, then waves that fit; plan.json and plan.csv.",
    "project": "Project the added SIEM load, cost and local log history once 4688 with command line is on.",
    "report": "Write the one-file HTML capacity report: the verdict first, then the evidence.",
    "simulate": "Run a simulated Windows fleet on loopback until Ctrl-C (or SIGTERM).",
    "survey": "Survey the hosts in HOSTS over WinRM: 4688 and command-line auditing, OS, Security log, Sysmon.",
}
