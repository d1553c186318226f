"""SimulatedHost: the CommandBackend of one simulated Windows host, built from its HostProfile.

Each `run` is one `cmd.exe /c <line>`: a fresh Shell (environment, errorlevel) over the host's
lasting state (its files, registry, event logs). Safe to call from several server threads at
once: the file system locks itself, the logs are built once under a lock, the rest is read-only.

Console code page: WinRS lets the client choose it when it opens the shell
(windows-tool-outputs.md §0.1); the CommandBackend contract does not carry it, so `run` uses the
profile's OEM code page (437 en-US, 850 de-DE) unless the caller passes `codepage=` (the server
may pass the shell's WINRS_CODEPAGE; 65001 gives UTF-8).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from auditplan.records import AuditSetting
from auditplan.simulator.audit_source import audit_files
from auditplan.simulator.cmd_files import FileSystem
from auditplan.simulator.cmd_shell import Shell
from auditplan.simulator.interface import CommandOutput, EventLogView
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.tool_texts import texts_for
from auditplan.simulator.tools import build_tools
from auditplan.simulator.tools_auditpol import BY_GUID, PROCESS_CREATION
from auditplan.simulator.tools_wevtutil import SECURITY, SYSMON

DEFAULT_USER = "auditor"
WINRS_START_DIRECTORY = "C:\\Users\\{user}"  # WinRS starts in the user's profile folder


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _gpo_rows(profile: HostProfile) -> list[tuple[str, str, AuditSetting]]:
    """(name, GUID, setting) of what the host's GPO sets: its `subcategories`, and Process Creation
    when it is on (a GPO that manages audit policy also delivers Process Creation where it is on)."""
    rows = [(BY_GUID[g.upper()].en if g.upper() in BY_GUID else g, g.upper(), s)
            for g, s in profile.audit.subcategories]
    if profile.audit.process_creation is not AuditSetting.NONE:
        rows.append((BY_GUID[PROCESS_CREATION].en, PROCESS_CREATION, profile.audit.process_creation))
    return rows


class SimulatedHost:
    """Implements simulator.interface.CommandBackend for one HostProfile."""

    def __init__(
        self,
        profile: HostProfile,
        *,
        now: datetime | Callable[[], datetime] | None = None,
        username: str | None = None,
    ) -> None:
        self.profile = profile
        if now is None:
            self._clock: Callable[[], datetime] = _utc_now
        elif isinstance(now, datetime):
            fixed = now
            self._clock = lambda: fixed
        else:
            self._clock = now
        self.username = username or (profile.credentials.username if profile.credentials else DEFAULT_USER)
        self.fs = FileSystem()
        for path, data in audit_files(profile.audit.source, _gpo_rows(profile)).items():
            self.fs.write(path, data)
        self._logs: dict[str, EventLogView | None] = {}
        self._logs_lock = threading.Lock()
        self.tools = build_tools(profile, self.event_log, self._clock)

    # Each log is generated once, for the moment it is first read, and then stays fixed: the
    # truth a test can know (a long-running `simulate` shows history up to that moment).
    def event_log(self, name: str) -> EventLogView | None:
        with self._logs_lock:
            if name not in self._logs:
                self._logs[name] = self._build_log(name)
            return self._logs[name]

    def _build_log(self, name: str) -> EventLogView | None:
        # Imported here: the event log (and its templates) loads only when a host first reads one.
        from auditplan.simulator.eventlog import SimEventLog

        if name == SECURITY:
            return SimEventLog.for_security(self.profile, self._clock())
        if name == SYSMON and self.profile.sysmon.installed:
            return SimEventLog.for_sysmon(self.profile, self._clock())
        return None

    def environment(self, principal: str | None = None) -> dict[str, str]:
        """cmd.exe's environment for a logon; `principal` is `DOMAIN\\user` as the server resolved it.

        A domain logon sets USERDOMAIN to the domain's NetBIOS name and USERDNSDOMAIN to its DNS name;
        a local logon sets USERDOMAIN to the computer name and no USERDNSDOMAIN.
        """
        logon_domain, _, user = (principal or self.username).rpartition("\\")
        profile_dir = WINRS_START_DIRECTORY.format(user=user)
        domain = self.profile.computer_name.split(".", 1)[1] if "." in self.profile.computer_name else ""
        netbios_domain = domain.split(".")[0].upper() if domain else ""
        if not logon_domain:  # no session (direct calls): the host's own account
            logon_domain = self.profile.netbios_name
        domain_logon = bool(netbios_domain) and logon_domain.upper() == netbios_domain
        env = {
            "ALLUSERSPROFILE": "C:\\ProgramData",
            "APPDATA": profile_dir + "\\AppData\\Roaming",
            "COMPUTERNAME": self.profile.netbios_name,
            "ComSpec": "C:\\Windows\\system32\\cmd.exe",
            "LOCALAPPDATA": profile_dir + "\\AppData\\Local",
            "NUMBER_OF_PROCESSORS": "4",
            "OS": "Windows_NT",
            "Path": "C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\Wbem;"
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\",
            "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC",
            "PROCESSOR_ARCHITECTURE": "AMD64",
            "ProgramData": "C:\\ProgramData",
            "ProgramFiles": "C:\\Program Files",
            "ProgramFiles(x86)": "C:\\Program Files (x86)",
            "PUBLIC": "C:\\Users\\Public",
            "SystemDrive": "C:",
            "SystemRoot": "C:\\Windows",
            "TEMP": profile_dir + "\\AppData\\Local\\Temp",
            "TMP": profile_dir + "\\AppData\\Local\\Temp",
            "USERDOMAIN": logon_domain,
            "USERNAME": user,
            "USERPROFILE": profile_dir,
            "windir": "C:\\Windows",
        }
        if domain_logon:
            env["USERDNSDOMAIN"] = domain.upper()
        return env

    def shell(self, codepage: int | None = None, principal: str | None = None) -> Shell:
        user = (principal or self.username).split("\\")[-1]
        return Shell(
            env=self.environment(principal),
            fs=self.fs,
            tools=self.tools,
            codepage=codepage if codepage is not None else self.profile.oem_codepage,
            cwd=WINRS_START_DIRECTORY.format(user=user),
            messages=texts_for(self.profile.locale).cmd,
        )

    def run(self, command: str, arguments: tuple[str, ...] = (), codepage: int | None = None) -> CommandOutput:
        """`cmd.exe /c` of the WinRS CommandLine: Command and Arguments joined by spaces."""
        return self.run_as("", command, arguments, codepage)

    def run_as(
        self, principal: str, command: str, arguments: tuple[str, ...] = (), codepage: int | None = None
    ) -> CommandOutput:
        """`run` in the logon session of `principal` (`DOMAIN\\user`; "" = the host's own account)."""
        line = " ".join([command, *arguments]) if arguments else command
        return self.shell(codepage, principal or None).run_line(line)
