"""Run under Debian's python3 with python3-samba: parse GPO payload files with Samba's parsers.

Usage: python3 samba_oracle.py REGISTRY_POL AUDIT_CSV GPTTMPL_INF  -> JSON on stdout.
Samba (GPL-3.0) is a test oracle only: it is invoked, never imported by the product or vendored.
"""

import json
import sys

# Samba's bindings exist only in Debian's system python3 (not the venv mypy runs in) and carry no type
# information, hence the ignores.
from samba.dcerpc import preg  # type: ignore[import-not-found,import-untyped]
from samba.gp_parse.gp_csv import GPAuditCsvParser  # type: ignore[import-not-found,import-untyped]
from samba.gp_parse.gp_inf import GptTmplInfParser  # type: ignore[import-not-found,import-untyped]
from samba.ndr import ndr_pack, ndr_unpack  # type: ignore[import-not-found,import-untyped]

pol_path, csv_path, inf_path = sys.argv[1:4]
pol = open(pol_path, "rb").read()
f = ndr_unpack(preg.file, pol)
entries = [
    {"key": e.keyname, "value": e.valuename, "type": e.type, "size": e.size,
     "data": e.data if isinstance(e.data, (int, str)) else list(e.data)}
    for e in f.entries
]
audit = GPAuditCsvParser()
audit.parse(open(csv_path, "rb").read())
inf = GptTmplInfParser()
inf.parse(open(inf_path, "rb").read())
registry_values = {}
for line in inf.sections["Registry Values"].param_list:
    key, _, value = line.partition("=")
    registry_values[key] = value
print(json.dumps({
    "preg_signature": f.header.signature,
    "preg_version": f.header.version,
    "preg_num_entries": f.num_entries,
    "preg_roundtrip": ndr_pack(f) == pol,
    "entries": entries,
    "audit_header": list(audit.header),
    "audit_lines": [dict(line) for line in audit.lines],
    "inf_nonempty_sections": [name for name, sec in inf.sections.items() if getattr(sec, "param_list", None)],
    "inf_registry_values": registry_values,
}))
