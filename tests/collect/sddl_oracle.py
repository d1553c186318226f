"""Run under Debian's python3 with python3-samba: Samba's SDDL parser, as an oracle for channel_access.

Usage: python3 sddl_oracle.py DOMAIN_SID  < one SDDL per line  -> one JSON object per line on stdout:
{"aces": [[type, mask, sid], ...]} (type 0 allow, 1 deny) or {"error": "..."}.
Samba (GPL-3.0) is a test oracle only: it is invoked, never imported by the product or vendored.
"""

import json
import sys

from samba.dcerpc import security  # type: ignore[import-not-found,import-untyped]

domain = security.dom_sid(sys.argv[1])
for line in sys.stdin.read().splitlines():
    try:
        sd = security.descriptor.from_sddl(line, domain)
    except Exception as exc:  # any refusal is the answer
        print(json.dumps({"error": str(exc)}))
        continue
    aces = [[int(a.type), int(a.access_mask), str(a.trustee)] for a in (sd.dacl.aces if sd.dacl else [])]
    print(json.dumps({"aces": aces, "dacl": sd.dacl is not None}))
