"""The WS-Management catalog of a simulated host: which resource URIs its listener serves.

The simulated hosts serve WinRS's cmd shell only. They have no PowerShell session configuration
registered (as a host after `Unregister-PSSessionConfiguration Microsoft.PowerShell`), so a PSRP
client's Create for `http://schemas.microsoft.com/powershell/<configuration>` (pypsrp RunspacePool,
Enter-PSSession) faults at once, the way Windows answers a resource URI missing from its catalog:

    Code 2150858811 (0x8033803B), "The WS-Management service cannot process the request. The
    resource URI (<uri>) was not found in the WS-Management catalog. The catalog contains the
    metadata that describes resources, or logical endpoints."

Code and text: the Windows faults quoted in diyan/pywinrm#273 (pypsrp against an Exchange server
without the Microsoft.Exchange configuration) and jborean93/pypsrp#192 (`winrm/config/listener`).
The SOAP subcode w:DestinationUnreachable with FaultDetail InvalidResourceURI is DSP0226's (WS-Management
1.x, "wsman:DestinationUnreachable ... Detail: InvalidResourceURI"); UNVERIFIED against a capture.
"""

from __future__ import annotations

from auditplan.simulator.wsman import CODE_SENDER, RESOURCE_URI_CMD, Fault

SUBCODE_DESTINATION_UNREACHABLE = "w:DestinationUnreachable"
FAULT_DETAIL_INVALID_RESOURCE_URI = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidResourceURI"
WSMAN_CODE_INVALID_RESOURCE_URI = 2150858811  # 0x8033803B
TEXT_INVALID_RESOURCE_URI = (
    "The WS-Management service cannot process the request. The resource URI ({uri}) was not found in the "
    "WS-Management catalog. The catalog contains the metadata that describes resources, or logical endpoints. "
)
SERVED_RESOURCE_URIS = frozenset({RESOURCE_URI_CMD.lower()})


def serves(resource_uri: str | None) -> bool:
    """Whether a Create for this resource URI reaches a shell (no URI: the cmd shell, as before)."""
    return resource_uri is None or resource_uri.strip().lower() in SERVED_RESOURCE_URIS


def invalid_resource_uri_fault(resource_uri: str) -> Fault:
    return Fault(
        CODE_SENDER,
        SUBCODE_DESTINATION_UNREACHABLE,
        TEXT_INVALID_RESOURCE_URI.format(uri=resource_uri),
        WSMAN_CODE_INVALID_RESOURCE_URI,
        FAULT_DETAIL_INVALID_RESOURCE_URI,
    )
