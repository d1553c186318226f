"""Imports every command module so that each registers on the `main` group.

One import line per module (sorted; the group's help lists the stages in data-flow order).
"""
from auditplan.cli import detections as _detections  # noqa: F401
from auditplan.cli import estimate as _estimate  # noqa: F401
from auditplan.cli import gpo as _gpo  # noqa: F401
from auditplan.cli import ingest as _ingest  # noqa: F401
from auditplan.cli import plan as _plan  # noqa: F401
from auditplan.cli import project as _project  # noqa: F401
from auditplan.cli import report as _report  # noqa: F401
from auditplan.cli import simulate as _simulate  # noqa: F401
from auditplan.cli import survey as _survey  # noqa: F401
