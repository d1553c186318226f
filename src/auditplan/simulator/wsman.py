"""WS-Management / WinRS messages as the simulator sees them: constants, parsed requests, responses.

Names and shapes follow MS-WSMV and the Windows traffic recorded in jborean93/pypsrp
tests/tests_pypsrp/responses/*.yml (reference/winrm-protocol.md §1.2–§1.4, §1.6). Responses use
the prefixes Windows uses (s:, a:, x:, w:, rsp:, p:) and `xml:lang="en-US"` on the Envelope.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

# --- Namespaces -------------------------------------------------------------------------------
NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_EVENTING = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
NS_ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_WSMV = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_WSMANFAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_CIMBINDING = "http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd"
NS_WMIERROR = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"
NS_CIM_COMMON = "http://schemas.dmtf.org/wbem/wscim/1/common"
NS_XML = "http://www.w3.org/XML/1998/namespace"

# --- Action URIs ------------------------------------------------------------------------------
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_CREATE_RESPONSE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_DELETE_RESPONSE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse"
ACTION_COMMAND = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command"
ACTION_COMMAND_RESPONSE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse"
ACTION_RECEIVE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"
ACTION_RECEIVE_RESPONSE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse"
ACTION_SEND = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send"
ACTION_SEND_RESPONSE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SendResponse"
ACTION_SIGNAL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal"
ACTION_SIGNAL_RESPONSE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

ADDRESS_ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

# --- Resource URIs ----------------------------------------------------------------------------
RESOURCE_URI_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"

# --- Command states and signals (MS-WSMV 2.2.4.7, 2.2.4.38) -----------------------------------
COMMAND_STATE_DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
COMMAND_STATE_PENDING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Pending"
COMMAND_STATE_RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
SIGNAL_TERMINATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"
SIGNAL_CTRL_C = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_c"
SIGNAL_CTRL_BREAK = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/ctrl_break"

# --- Shell options ----------------------------------------------------------------------------
OPTION_CODEPAGE = "WINRS_CODEPAGE"
OPTION_NOPROFILE = "WINRS_NOPROFILE"
OPTION_SKIP_CMD_SHELL = "WINRS_SKIP_CMD_SHELL"
OPTION_CONSOLEMODE_STDIN = "WINRS_CONSOLEMODE_STDIN"
DEFAULT_CODEPAGE = 437

# --- SOAP fault codes and WS-Man subcodes -----------------------------------------------------
CODE_SENDER = "s:Sender"
CODE_RECEIVER = "s:Receiver"
SUBCODE_TIMED_OUT = "w:TimedOut"
SUBCODE_INVALID_SELECTORS = "w:InvalidSelectors"
SUBCODE_INTERNAL_ERROR = "w:InternalError"
SUBCODE_ACCESS_DENIED = "w:AccessDenied"
SUBCODE_SCHEMA_VALIDATION_ERROR = "w:SchemaValidationError"
SUBCODE_ACTION_NOT_SUPPORTED = "a:ActionNotSupported"
SUBCODE_QUOTA_LIMIT = "w:QuotaLimit"
SUBCODE_INVALID_PARAMETER = "w:InvalidParameter"
FAULT_DETAIL_UNEXPECTED_SELECTORS = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors"

# --- WSManFault Code values (HRESULTs as unsigned decimals) ------------------------------------
WSMAN_CODE_TIMED_OUT = 2150858793  # 0x80338029, reference §1.4
WSMAN_CODE_INVALID_SELECTORS = 2150858843  # 0x8033805B, reference §1.6
WSMAN_CODE_SCHEMA_VALIDATION_ERROR = 2150858817  # 0x80338041, reference §1.6
WSMAN_CODE_QUOTA_OPERATIONS = 2150859174  # 0x803381A6, reference §1.6 (arrives as MSFT_WmiError)
WSMAN_CODE_ACCESS_DENIED = 5  # ERROR_ACCESS_DENIED; fault shape UNVERIFIED (reference §1.6)
WSMAN_CODE_INVALID_PARAMETER = 87  # ERROR_INVALID_PARAMETER, reference §1.6
WSMAN_CODE_ACTION_NOT_SUPPORTED = 2150858770  # 0x80338012; UNVERIFIED, from the reference sketch
WSMAN_CODE_INTERNAL_ERROR = 2150858752  # 0x80338000 generic WS-Man failure; UNVERIFIED

# cmd.exe's limit on one command line (reference §1.5): longer lines never start.
CMD_LINE_LIMIT = 8191
CMD_LINE_TOO_LONG_STDERR = b"The command line is too long.\r\n"
CMD_LINE_TOO_LONG_EXIT_CODE = 1

TEXT_TIMED_OUT = (
    "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
)
TEXT_INVALID_SELECTORS = (
    "The WS-Management service cannot process the request because the request contained invalid "
    "selectors for the resource. "
)
TEXT_UNKNOWN_COMMAND = (
    "The Windows Remote Shell received a request to perform an operation on a command identifier that "
    "does not exist. Either the command has completed execution or the client specified an invalid "
    "command identifier. "
)
TEXT_UNKNOWN_SHELL = (
    "The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
    "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
    "exists on the server. Provide the correct ShellId or create a new shell and retry the operation. "
)
TEXT_QUOTA_OPERATIONS = (
    "The WS-Management service cannot process the request. This user is allowed a maximum number of "
    "{limit} concurrent operations, which has been exceeded. Close existing operations for this user, or "
    "raise the quota for this user. "
)
TEXT_QUOTA_COMMANDS = (
    "The WS-Management service cannot process the request. The maximum number of concurrent commands "
    "per shell has been exceeded for this shell. Wait until the existing commands finish, or raise the "
    "quota for this shell. "
)
TEXT_ACCESS_DENIED = "Access is denied. "
TEXT_ACTION_NOT_SUPPORTED = "The WS-Management service cannot process the request. The action is not supported. "
TEXT_SCHEMA_VALIDATION = "The WS-Management service cannot process the request because the XML is invalid. "
TEXT_INTERNAL_ERROR = "The WS-Management service cannot process the request. An internal error occurred. "


@dataclass(frozen=True)
class Fault:
    """One SOAP fault: HTTP 500 with a WSManFault (or MSFT_WmiError) detail."""

    code: str
    subcode: str
    reason: str
    wsman_code: int
    fault_detail: str | None = None  # w:FaultDetail URI, when Windows sends one
    wmi_error: bool = False  # detail is p:MSFT_WmiError (quota faults), not f:WSManFault


# Faults a FaultSpec may name by subcode (FaultSpec.http_500_fault); reasons as Windows words them.
KNOWN_FAULTS: dict[str, Fault] = {
    SUBCODE_TIMED_OUT: Fault(CODE_RECEIVER, SUBCODE_TIMED_OUT, TEXT_TIMED_OUT, WSMAN_CODE_TIMED_OUT),
    SUBCODE_INVALID_SELECTORS: Fault(
        CODE_SENDER,
        SUBCODE_INVALID_SELECTORS,
        TEXT_INVALID_SELECTORS,
        WSMAN_CODE_INVALID_SELECTORS,
        FAULT_DETAIL_UNEXPECTED_SELECTORS,
    ),
    SUBCODE_INTERNAL_ERROR: Fault(
        CODE_RECEIVER, SUBCODE_INTERNAL_ERROR, TEXT_INTERNAL_ERROR, WSMAN_CODE_INTERNAL_ERROR
    ),
    SUBCODE_ACCESS_DENIED: Fault(CODE_SENDER, SUBCODE_ACCESS_DENIED, TEXT_ACCESS_DENIED, WSMAN_CODE_ACCESS_DENIED),
    SUBCODE_SCHEMA_VALIDATION_ERROR: Fault(
        CODE_SENDER, SUBCODE_SCHEMA_VALIDATION_ERROR, TEXT_SCHEMA_VALIDATION, WSMAN_CODE_SCHEMA_VALIDATION_ERROR
    ),
    SUBCODE_ACTION_NOT_SUPPORTED: Fault(
        CODE_SENDER, SUBCODE_ACTION_NOT_SUPPORTED, TEXT_ACTION_NOT_SUPPORTED, WSMAN_CODE_ACTION_NOT_SUPPORTED
    ),
    SUBCODE_QUOTA_LIMIT: Fault(
        CODE_RECEIVER,
        SUBCODE_INTERNAL_ERROR,
        TEXT_QUOTA_OPERATIONS.format(limit=1500),
        WSMAN_CODE_QUOTA_OPERATIONS,
        wmi_error=True,
    ),
}


def fault_for_subcode(subcode: str) -> Fault:
    """The fault a host configured with `http_500_fault=subcode` answers; unknown names get a generic one."""
    known = KNOWN_FAULTS.get(subcode)
    if known is not None:
        return known
    return Fault(CODE_RECEIVER, subcode, TEXT_INTERNAL_ERROR, WSMAN_CODE_INTERNAL_ERROR)


def timed_out_fault() -> Fault:
    return KNOWN_FAULTS[SUBCODE_TIMED_OUT]


def unknown_shell_fault(shell_id: str) -> Fault:
    return Fault(
        CODE_SENDER,
        SUBCODE_INVALID_SELECTORS,
        TEXT_UNKNOWN_SHELL.format(shell_id=shell_id),
        WSMAN_CODE_INVALID_SELECTORS,
        FAULT_DETAIL_UNEXPECTED_SELECTORS,
    )


def unknown_command_fault() -> Fault:
    return Fault(
        CODE_SENDER,
        SUBCODE_INVALID_SELECTORS,
        TEXT_UNKNOWN_COMMAND,
        WSMAN_CODE_INVALID_SELECTORS,
        FAULT_DETAIL_UNEXPECTED_SELECTORS,
    )


def operations_quota_fault(limit: int) -> Fault:
    """MaxConcurrentOperationsPerUser exceeded: w:InternalError + MSFT_WmiError (reference §1.6, §4)."""
    return Fault(
        CODE_RECEIVER,
        SUBCODE_INTERNAL_ERROR,
        TEXT_QUOTA_OPERATIONS.format(limit=limit),
        WSMAN_CODE_QUOTA_OPERATIONS,
        wmi_error=True,
    )


def commands_quota_fault() -> Fault:
    """Commands per shell exceeded; same w:InternalError shape as pypsrp#148 shows (reference §1.6)."""
    return Fault(
        CODE_RECEIVER, SUBCODE_INTERNAL_ERROR, TEXT_QUOTA_COMMANDS, WSMAN_CODE_QUOTA_OPERATIONS, wmi_error=True
    )


# --- Parsed requests --------------------------------------------------------------------------


class RequestError(Exception):
    """The request is not a WS-Management message the simulator can act on."""

    def __init__(self, fault: Fault, detail: str) -> None:
        super().__init__(detail)
        self.fault = fault


@dataclass(frozen=True)
class CreateShell:
    input_streams: tuple[str, ...]
    output_streams: tuple[str, ...]
    working_directory: str | None
    idle_timeout: str | None
    environment: dict[str, str]


@dataclass(frozen=True)
class RunCommand:
    command: str
    arguments: tuple[str, ...]


@dataclass(frozen=True)
class ReceiveOutput:
    command_id: str | None
    streams: tuple[str, ...]


@dataclass(frozen=True)
class StreamInput:
    name: str
    command_id: str | None
    data: bytes
    end: bool


@dataclass(frozen=True)
class SendInput:
    streams: tuple[StreamInput, ...]


@dataclass(frozen=True)
class SignalCommand:
    command_id: str | None
    code: str


@dataclass(frozen=True)
class DeleteShell:
    pass


Body = CreateShell | RunCommand | ReceiveOutput | SendInput | SignalCommand | DeleteShell | None


@dataclass(frozen=True)
class Request:
    """The header fields the server acts on plus the typed body of one operation."""

    action: str
    message_id: str
    resource_uri: str | None
    shell_id: str | None
    operation_timeout: float | None  # seconds
    max_envelope_size: int | None
    locale: str | None
    options: dict[str, str] = field(default_factory=dict)
    body: Body = None

    @property
    def short_action(self) -> str:
        return self.action.rsplit("/", 1)[-1]

    def option_bool(self, name: str, default: bool) -> bool:
        """Option values are TRUE/FALSE from pywinrm and True/False from pypsrp (reference §1.2)."""
        value = self.options.get(name)
        return default if value is None else value.strip().lower() == "true"


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> float:
    """xs:duration as WS-Man uses it (PT20S, PT20.000S, PT1M30S) -> seconds."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in ("P", "PT"):
        raise ValueError(f"not an xs:duration: {text!r}")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def _q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def _schema_error(detail: str) -> RequestError:
    return RequestError(KNOWN_FAULTS[SUBCODE_SCHEMA_VALIDATION_ERROR], detail)


def parse_request(data: bytes) -> Request:
    """Parse one SOAP envelope. Raises RequestError (with the fault to answer) on bad input."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _schema_error("DTDs are not allowed in WS-Management messages")
    try:
        root = ET.fromstring(data)  # noqa: S314 - no DTD possible (checked above); loopback test input
    except ET.ParseError as exc:
        raise _schema_error(f"request is not XML: {exc}") from exc
    if root.tag != _q(NS_SOAP, "Envelope"):
        raise _schema_error("root element is not a SOAP 1.2 Envelope")
    header = root.find(_q(NS_SOAP, "Header"))
    body = root.find(_q(NS_SOAP, "Body"))
    if header is None or body is None:
        raise _schema_error("Envelope lacks Header or Body")

    action = (header.findtext(_q(NS_ADDRESSING, "Action")) or "").strip()
    message_id = (header.findtext(_q(NS_ADDRESSING, "MessageID")) or "").strip()
    if not action or not message_id:
        raise _schema_error("a:Action and a:MessageID are required")
    timeout_text = header.findtext(_q(NS_WSMAN, "OperationTimeout"))
    try:
        operation_timeout = parse_duration(timeout_text) if timeout_text else None
    except ValueError as exc:
        raise _schema_error(str(exc)) from exc
    size_text = header.findtext(_q(NS_WSMAN, "MaxEnvelopeSize"))
    max_envelope_size = int(size_text) if size_text and size_text.strip().isdigit() else None
    locale_el = header.find(_q(NS_WSMAN, "Locale"))
    locale = locale_el.get(_q(NS_XML, "lang")) if locale_el is not None else None
    shell_id: str | None = None
    for selector in header.iter(_q(NS_WSMAN, "Selector")):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    options = {opt.get("Name", ""): (opt.text or "") for opt in header.iter(_q(NS_WSMAN, "Option")) if opt.get("Name")}
    resource_uri = header.findtext(_q(NS_WSMAN, "ResourceURI"))

    return Request(
        action=action,
        message_id=message_id,
        resource_uri=resource_uri.strip() if resource_uri else None,
        shell_id=shell_id,
        operation_timeout=operation_timeout,
        max_envelope_size=max_envelope_size,
        locale=locale,
        options=options,
        body=_parse_body(action, body),
    )


def _split_list(text: str | None) -> tuple[str, ...]:
    return tuple((text or "").split())


def _parse_body(action: str, body: ET.Element) -> Body:
    if action == ACTION_CREATE:
        shell = body.find(_q(NS_SHELL, "Shell"))
        if shell is None:
            raise _schema_error("Create needs an rsp:Shell body")
        env_el = shell.find(_q(NS_SHELL, "Environment"))
        environment = {}
        if env_el is not None:
            for var in env_el.findall(_q(NS_SHELL, "Variable")):
                environment[var.get("Name", "")] = var.text or ""
        return CreateShell(
            input_streams=_split_list(shell.findtext(_q(NS_SHELL, "InputStreams"))),
            output_streams=_split_list(shell.findtext(_q(NS_SHELL, "OutputStreams"))),
            working_directory=shell.findtext(_q(NS_SHELL, "WorkingDirectory")),
            idle_timeout=shell.findtext(_q(NS_SHELL, "IdleTimeOut")),
            environment=environment,
        )
    if action == ACTION_COMMAND:
        line = body.find(_q(NS_SHELL, "CommandLine"))
        if line is None:
            raise _schema_error("Command needs an rsp:CommandLine body")
        command = line.findtext(_q(NS_SHELL, "Command"))
        if command is None:
            raise _schema_error("rsp:CommandLine lacks rsp:Command")
        # pywinrm sends one joined rsp:Arguments, pypsrp one element per argument (reference §1.3).
        arguments = tuple(arg.text or "" for arg in line.findall(_q(NS_SHELL, "Arguments")))
        return RunCommand(command=command, arguments=arguments)
    if action == ACTION_RECEIVE:
        desired = body.find(f"{_q(NS_SHELL, 'Receive')}/{_q(NS_SHELL, 'DesiredStream')}")
        if desired is None:
            raise _schema_error("Receive needs rsp:Receive/rsp:DesiredStream")
        return ReceiveOutput(command_id=desired.get("CommandId"), streams=_split_list(desired.text))
    if action == ACTION_SEND:
        send = body.find(_q(NS_SHELL, "Send"))
        if send is None:
            raise _schema_error("Send needs an rsp:Send body")
        streams = []
        for stream in send.findall(_q(NS_SHELL, "Stream")):
            try:
                data = base64.b64decode(stream.text or "", validate=True)
            except binascii.Error as exc:
                raise _schema_error("rsp:Stream is not base64") from exc
            streams.append(
                StreamInput(
                    name=stream.get("Name", ""),
                    command_id=stream.get("CommandId"),
                    data=data,
                    end=stream.get("End", "false").lower() == "true",
                )
            )
        return SendInput(streams=tuple(streams))
    if action == ACTION_SIGNAL:
        signal = body.find(_q(NS_SHELL, "Signal"))
        if signal is None:
            raise _schema_error("Signal needs an rsp:Signal body")
        code = (signal.findtext(_q(NS_SHELL, "Code")) or "").strip()
        return SignalCommand(command_id=signal.get("CommandId"), code=code)
    if action == ACTION_DELETE:
        return DeleteShell()
    return None


# --- Responses --------------------------------------------------------------------------------

_ENVELOPE_OPEN = (
    f'<s:Envelope xml:lang="en-US" xmlns:s="{NS_SOAP}" xmlns:a="{NS_ADDRESSING}" xmlns:x="{NS_TRANSFER}" '
    f'xmlns:w="{NS_WSMAN}" xmlns:rsp="{NS_SHELL}" xmlns:p="{NS_WSMV}">'
)
_FAULT_ENVELOPE_OPEN = (
    f'<s:Envelope xml:lang="en-US" xmlns:s="{NS_SOAP}" xmlns:a="{NS_ADDRESSING}" xmlns:x="{NS_TRANSFER}" '
    f'xmlns:e="{NS_EVENTING}" xmlns:n="{NS_ENUMERATION}" xmlns:w="{NS_WSMAN}" xmlns:p="{NS_WSMV}">'
)


def new_guid() -> str:
    """Windows writes ShellId, CommandId and MessageID GUIDs in upper case."""
    return str(uuid.uuid4()).upper()


def envelope(action: str, relates_to: str, body: str, *, opening: str = _ENVELOPE_OPEN) -> bytes:
    return (
        f"{opening}<s:Header><a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{new_guid()}</a:MessageID>"
        f"<a:To>{ADDRESS_ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


@dataclass(frozen=True)
class ShellInfo:
    shell_id: str
    owner: str
    client_ip: str
    input_streams: tuple[str, ...]
    output_streams: tuple[str, ...]


def create_response(relates_to: str, address: str, shell: ShellInfo) -> bytes:
    sid = escape(shell.shell_id)
    body = (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{RESOURCE_URI_CMD}</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{sid}</w:Selector></w:SelectorSet>'
        f"</a:ReferenceParameters></x:ResourceCreated>"
        f'<rsp:Shell xmlns:rsp="{NS_SHELL}"><rsp:ShellId>{sid}</rsp:ShellId>'
        f"<rsp:ResourceUri>{RESOURCE_URI_CMD}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(shell.owner)}</rsp:Owner><rsp:ClientIP>{escape(shell.client_ip)}</rsp:ClientIP>"
        f"<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        f"<rsp:InputStreams>{escape(' '.join(shell.input_streams))}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(' '.join(shell.output_streams))}</rsp:OutputStreams>"
        f"<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
        f"</rsp:Shell>"
    )
    return envelope(ACTION_CREATE_RESPONSE, relates_to, body)


def command_response(relates_to: str, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId></rsp:CommandResponse>"
    return envelope(ACTION_COMMAND_RESPONSE, relates_to, body)


def receive_response(
    relates_to: str,
    command_id: str,
    chunks: list[tuple[str, bytes]],
    *,
    done: bool,
    exit_code: int | None,
    stream_names: tuple[str, ...] = ("stdout", "stderr"),
) -> bytes:
    """Streams as base64 rsp:Stream elements; the Done response closes every stream with End="true"."""
    cid = quoteattr(command_id)
    parts = ["<rsp:ReceiveResponse>"]
    for name, data in chunks:
        if data:
            parts.append(
                f"<rsp:Stream Name={quoteattr(name)} CommandId={cid}>{base64.b64encode(data).decode('ascii')}"
                "</rsp:Stream>"
            )
    if done:
        for name in stream_names:
            parts.append(f'<rsp:Stream Name={quoteattr(name)} CommandId={cid} End="true"></rsp:Stream>')
        code = "" if exit_code is None else f"<rsp:ExitCode>{exit_code}</rsp:ExitCode>"
        parts.append(f'<rsp:CommandState CommandId={cid} State="{COMMAND_STATE_DONE}">{code}</rsp:CommandState>')
    else:
        parts.append(f'<rsp:CommandState CommandId={cid} State="{COMMAND_STATE_RUNNING}"></rsp:CommandState>')
    parts.append("</rsp:ReceiveResponse>")
    return envelope(ACTION_RECEIVE_RESPONSE, relates_to, "".join(parts))


def send_response(relates_to: str) -> bytes:
    return envelope(ACTION_SEND_RESPONSE, relates_to, "<rsp:SendResponse/>")


def signal_response(relates_to: str) -> bytes:
    return envelope(ACTION_SIGNAL_RESPONSE, relates_to, "<rsp:SignalResponse/>")


def delete_response(relates_to: str) -> bytes:
    return envelope(ACTION_DELETE_RESPONSE, relates_to, "")


def fault_response(relates_to: str, fault: Fault, machine: str) -> bytes:
    """The HTTP 500 body; shape as in reference §1.4 (WSManFault) and §1.6 (MSFT_WmiError)."""
    reason = escape(fault.reason)
    if fault.wmi_error:
        hresult = f"HRESULT 0x{fault.wsman_code:08x}"
        detail = (
            f'<p:MSFT_WmiError b:IsCIM_Error="true" xmlns:xsi="{NS_XSI}" xmlns:b="{NS_CIMBINDING}" '
            f'xmlns:p="{NS_WMIERROR}" xmlns:cim="{NS_CIM_COMMON}" xsi:type="p:MSFT_WmiError_Type">'
            f'<p:CIMStatusCode xsi:type="cim:cimUnsignedInt">27</p:CIMStatusCode>'
            f'<p:Message xsi:type="cim:cimString">{reason}</p:Message>'
            f'<p:MessageID xsi:type="cim:cimString">{hresult}</p:MessageID>'
            f'<p:error_Category xsi:type="cim:cimUnsignedInt">30</p:error_Category>'
            f'<p:error_Code xsi:type="cim:cimUnsignedInt">{fault.wsman_code}</p:error_Code>'
            f'<p:error_Type xsi:type="cim:cimString">HRESULT</p:error_Type>'
            f'<p:error_WindowsErrorMessage xsi:type="cim:cimString">{reason}</p:error_WindowsErrorMessage>'
            f"</p:MSFT_WmiError>"
        )
    else:
        fault_detail = f"<w:FaultDetail>{fault.fault_detail}</w:FaultDetail>" if fault.fault_detail else ""
        detail = (
            f'{fault_detail}<f:WSManFault xmlns:f="{NS_WSMANFAULT}" Code="{fault.wsman_code}" '
            f"Machine={quoteattr(machine)}><f:Message>{reason}</f:Message></f:WSManFault>"
        )
    body = (
        f"<s:Fault><s:Code><s:Value>{fault.code}</s:Value><s:Subcode><s:Value>{escape(fault.subcode)}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason>'
        f"<s:Detail>{detail}</s:Detail></s:Fault>"
    )
    return envelope(ACTION_FAULT, relates_to, body, opening=_FAULT_ENVELOPE_OPEN)


# Deliberately not XML: the malformed_xml fault's body (a truncated envelope plus a stray byte).
MALFORMED_BODY = b'<s:Envelope xml:lang="en-US" xmlns:s="' + NS_SOAP.encode() + b'"><s:Header><a:Action>\x00'


# Room the envelope, headers and CommandState take around the base64 stream data.
_RECEIVE_OVERHEAD = 4096
DEFAULT_MAX_ENVELOPE_SIZE = 153600  # what pywinrm and pypsrp ask for (reference §1.2)


def receive_chunk_bytes(max_envelope_size: int | None) -> int:
    """Raw output bytes one ReceiveResponse may carry so that it stays under MaxEnvelopeSize."""
    size = max_envelope_size or DEFAULT_MAX_ENVELOPE_SIZE
    return max(1024, (size - _RECEIVE_OVERHEAD) * 3 // 4)
