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
    "noise": "auditplan.cli.noise",
    "plan": "auditplan.cli.plan",
    "project": "auditplan.cli.project",
    "report": "auditplan.cli.report",
    "simulate": "auditplan.cli.simulate",
    "survey": "auditplan.cli.survey",
}
