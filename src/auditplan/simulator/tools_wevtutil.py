"""`wevtutil gl`, `gli` and `qe` for Security and Sysmon's Operational log (windows-tool-outputs.md §3-4).

`gl` text and `/f:xml` follow §3.1/§3.2 (VERBATIM): the name echoes the argument as typed, CRLF on
every line. `owningPublisher: ` carries a trailing space: with it, the same layout for the System
log is exactly the 410 bytes measured on Windows 11 (§3.1), without it 409. `gli` follows §3.3
(the Security form itself is UNVERIFIED). Only Security and (when installed)
Microsoft-Windows-Sysmon/Operational exist on a simulated host; any other name answers as a
missing channel: exit 15007 with the texts of §3.4 / §4.3. Without admin rights `gli` and `qe` of either
log answer exit 5 `Access is denied.` (§4.3; the gli wording is UNVERIFIED); `gl` works. Error texts are
in the host's language (simulator/tool_texts.py).
The Sysmon channel's access SDDL and default 64 MB maxSize are UNVERIFIED.
`qe` is delegated to the log's EventLogView.query (simulator/eventlog.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from auditplan.simulator.cmd_shell import CRLF, ToolContext, codec_for
from auditplan.simulator.interface import CommandOutput, EventLogView
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.tool_texts import texts_for

SECURITY = "Security"
SYSMON = "Microsoft-Windows-Sysmon/Operational"
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_PARAMETER = 87
ERROR_EVT_CHANNEL_NOT_FOUND = 15007
MSG_CHANNEL_NOT_FOUND = "The specified channel could not be found."
MSG_ACCESS_DENIED = "Access is denied."
MSG_PARAMETER = "The parameter is incorrect."
MSG_REQUIRED_ARGS = "Required argument(s) is/are not specified."
XMLNS_EVENTS = "http://schemas.microsoft.com/win/2004/08/events"
FILE_ATTRIBUTE_ARCHIVE = 32

CHANNELS = {
    SECURITY: {
        "type": "Admin",
        "owningPublisher": "",
        "isolation": "Custom",
        "channelAccess": "O:BAG:SYD:(A;;0xf0005;;;SY)(A;;0x5;;;BA)(A;;0x1;;;S-1-5-32-573)",
    },
    SYSMON: {
        "type": "Operational",
        "owningPublisher": "Microsoft-Windows-Sysmon",
        "isolation": "Custom",
        "channelAccess": "O:BAG:SYD:(A;;0xf0007;;;SY)(A;;0x7;;;BA)(A;;0x1;;;BO)(A;;0x1;;;SO)(A;;0x1;;;S-1-5-32-573)",
    },
}
SYSMON_DEFAULT_MAX_SIZE = 67108864

LogProvider = Callable[[str], EventLogView | None]


def _iso_ms(t: datetime) -> str:
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class Wevtutil:
    """The tool bound to one host; `logs(canonical_name)` builds/returns the EventLogView."""

    def __init__(self, profile: HostProfile, logs: LogProvider, now: Callable[[], datetime]) -> None:
        self.profile = profile
        self.logs = logs
        self.now = now
        self.texts = texts_for(profile.locale)  # error texts in the host's language (tool_texts.py)

    def canonical(self, typed: str) -> str | None:
        for name in self._present():
            if name.lower() == typed.lower():
                return name
        return None

    def _present(self) -> list[str]:
        return [SECURITY, SYSMON] if self.profile.sysmon.installed else [SECURITY]

    def __call__(self, ctx: ToolContext) -> CommandOutput:
        args = list(ctx.argv)
        if not args:
            return ctx.err(f"{MSG_REQUIRED_ARGS}{CRLF}", exit_code=ERROR_INVALID_PARAMETER)
        verb = args[0].lower()
        if verb in ("gl", "get-log"):
            return self._gl(ctx, args[1:])
        if verb in ("gli", "get-log-info"):
            return self._gli(ctx, args[1:])
        if verb in ("qe", "query-events"):
            return self._qe(ctx, args[1:])
        if verb in ("el", "enum-logs"):
            return ctx.out("".join(name + CRLF for name in sorted(["Application", "System", *self._present()])))
        return ctx.err(f"Unknown command {args[0]}.{CRLF}{MSG_PARAMETER}{CRLF}", exit_code=ERROR_INVALID_PARAMETER)

    def _gl(self, ctx: ToolContext, args: list[str]) -> CommandOutput:
        if not args or args[0].startswith("/"):
            return ctx.err(f"{MSG_REQUIRED_ARGS}{CRLF}", exit_code=ERROR_INVALID_PARAMETER)
        typed = args[0]
        fmt = "text"
        for opt in args[1:]:
            key, _, value = opt.partition(":")
            if key.lower() in ("/f", "/format") and value.lower() in ("xml", "text"):
                fmt = value.lower()
            else:
                return ctx.err(
                    f"Invalid value for option {key.lstrip('/')}.{CRLF}{MSG_PARAMETER}{CRLF}",
                    exit_code=ERROR_INVALID_PARAMETER,
                )
        name = self.canonical(typed)
        if name is None:
            return ctx.err(
                f"{self.texts.wevtutil_gl_failed.format(log=typed)}{CRLF}{self.texts.channel_not_found}{CRLF}",
                exit_code=ERROR_EVT_CHANNEL_NOT_FOUND,
            )
        channel = CHANNELS[name]
        if name == SECURITY:
            channel = {**channel, "channelAccess": self.profile.security_channel_access}
            max_size = self.profile.security_log.max_size_bytes
            retention = self.profile.security_log.retention
        else:
            max_size, retention = SYSMON_DEFAULT_MAX_SIZE, "overwrite"
        keep = "false" if retention == "overwrite" else "true"
        backup = "true" if retention == "archive" else "false"
        file_name = "%SystemRoot%\\System32\\Winevt\\Logs\\" + typed.replace("/", "%4") + ".evtx"
        if fmt == "xml":
            lines = [
                '<?xml version="1.0" encoding="UTF-8"?>',
                f'<channel name="{typed}" enabled="true" type="{channel["type"]}" '
                f'owningPublisher="{channel["owningPublisher"]}" isolation="{channel["isolation"]}" '
                f'channelAccess="{channel["channelAccess"]}" xmlns="{XMLNS_EVENTS}">',
                "  <logging>",
                f"    <logFileName>{file_name}</logFileName>",
                f"    <retention>{keep}</retention>",
                f"    <autoBackup>{backup}</autoBackup>",
                f"    <maxSize>{max_size}</maxSize>",
                "  </logging>",
                "  <publishing>",
                "    <fileMax>1</fileMax>",
                "  </publishing>",
                "</channel>",
            ]
        else:
            lines = [
                f"name: {typed}",
                "enabled: true",
                f"type: {channel['type']}",
                f"owningPublisher: {channel['owningPublisher']}",
                f"isolation: {channel['isolation']}",
                f"channelAccess: {channel['channelAccess']}",
                "logging:",
                f"  logFileName: {file_name}",
                f"  retention: {keep}",
                f"  autoBackup: {backup}",
                f"  maxSize: {max_size}",
                "publishing:",
                "  fileMax: 1",
            ]
        return ctx.out(CRLF.join(lines) + CRLF)

    def _readable_log(
        self, ctx: ToolContext, args: list[str], failure: Callable[[str, str], str]
    ) -> str | CommandOutput:
        """The canonical name of the log args[0] names, or wevtutil's error when it is missing, unknown or
        not readable by this account; `failure(typed, message)` lays out the verb's error text."""
        if not args or args[0].startswith("/"):
            return ctx.err(f"{MSG_REQUIRED_ARGS}{CRLF}", exit_code=ERROR_INVALID_PARAMETER)
        typed = args[0]
        name = self.canonical(typed)
        if name is None:
            return ctx.err(failure(typed, self.texts.channel_not_found), exit_code=ERROR_EVT_CHANNEL_NOT_FOUND)
        if not self.profile.admin:
            return ctx.err(failure(typed, self.texts.access_denied), exit_code=ERROR_ACCESS_DENIED)
        return name

    def _gli(self, ctx: ToolContext, args: list[str]) -> CommandOutput:
        name = self._readable_log(
            ctx, args, lambda typed, msg: f"{self.texts.wevtutil_gli_failed.format(log=typed)}{CRLF}{msg}{CRLF}"
        )
        if isinstance(name, CommandOutput):
            return name
        log = self.logs(name)
        now = self.now()
        created = now - timedelta(days=400 + self.profile.seed % 600)
        if log is None:  # the log exists but nothing feeds it: an empty, freshly created file
            size, count, oldest = 69632, 0, 0
            newest = now
        else:
            size, count, oldest = log.file_size_bytes, log.record_count, log.oldest_record_number
            newest_attr = getattr(log, "newest_time", None)
            newest = newest_attr if isinstance(newest_attr, datetime) else now
            # The simulated file began with its history: gli must not claim a creation after its oldest event.
            created_attr = getattr(log, "creation_time", None)
            created = created_attr if isinstance(created_attr, datetime) else created
        lines = [
            f"creationTime: {_iso_ms(created)}",
            f"lastAccessTime: {_iso_ms(now)}",
            f"lastWriteTime: {_iso_ms(newest)}",
            f"fileSize: {size}",
            f"attributes: {FILE_ATTRIBUTE_ARCHIVE}",
            f"numberOfLogRecords: {count}",
            f"oldestRecordNumber: {oldest}",
        ]
        return ctx.out(CRLF.join(lines) + CRLF)

    def _qe(self, ctx: ToolContext, args: list[str]) -> CommandOutput:
        name = self._readable_log(ctx, args, lambda _typed, msg: f"{msg}{CRLF}{self.texts.wevtutil_qe_failed}{CRLF}")
        if isinstance(name, CommandOutput):
            return name
        log = self.logs(name)
        if log is None:
            return CommandOutput(b"", b"", 0)  # an empty log: no events, exit 0 (§4.1)
        result = log.query(tuple(args[1:]))
        # The view renders in the code page it was built with (its `codepage`, else the host's OEM
        # one); the console of this shell may use another (§0.1), so transcode when they differ.
        source = getattr(log, "codepage", self.profile.oem_codepage)
        if isinstance(source, int) and codec_for(source) != codec_for(ctx.shell.codepage):
            result = CommandOutput(
                ctx.shell.encode(result.stdout.decode(codec_for(source), errors="replace")),
                ctx.shell.encode(result.stderr.decode(codec_for(source), errors="replace")),
                result.exit_code,
            )
        return result
