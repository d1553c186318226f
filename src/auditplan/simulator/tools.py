"""The tools a simulated host offers to its cmd.exe: hostname, ver, sc, plus auditpol, reg and
wevtutil from their own modules. `build_tools(...)` binds them to one host.

`hostname` and `ver` follow windows-tool-outputs.md §8 (VERBATIM): `hostname` prints the host
name + CRLF; `ver` prints an empty line, then `Microsoft Windows [Version M.m.build.UBR]`. Before
Windows 10 the banner has no UBR (`6.1.7601`); that older shape is from memory, UNVERIFIED.

`sc query NAME` follows §6 (fixtures stating real output): a leading empty line, `SERVICE_NAME: `
with a trailing space, 8-space indented fields padded to 19 characters, two trailing spaces after
TYPE and one after STATE; a missing service prints the 1060 text on stdout with exit 1060 (§6.2).
The trailing empty line after a service block is UNVERIFIED for the single-service form.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from auditplan.simulator.cmd_shell import CRLF, Tool, ToolContext
from auditplan.simulator.interface import CommandOutput
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.tool_texts import texts_for
from auditplan.simulator.tools_auditpol import Auditpol
from auditplan.simulator.tools_find import find_tool
from auditplan.simulator.tools_powershell import PowerShell
from auditplan.simulator.tools_reg import Reg
from auditplan.simulator.tools_wevtutil import LogProvider, Wevtutil

ERROR_SERVICE_DOES_NOT_EXIST = 1060
ERROR_INVALID_SC_USAGE = 1639  # ERROR_INVALID_COMMAND_LINE; sc's usage exit code is UNVERIFIED
SERVICE_WIN32_OWN_PROCESS = "10  WIN32_OWN_PROCESS"
STATE_RUNNING = "4  RUNNING"
STATE_STOPPED = "1  STOPPED"
CONTROLS_RUNNING = "(STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)"
ERROR_SERVICE_NEVER_STARTED = "1077  (0x435)"
HOSTNAME_SET_ERROR = "sethostname: Use the Network Control Panel Applet to set hostname.\r\n"


def ver_text(profile: HostProfile) -> str:
    os_ = profile.os
    version = f"{os_.version}.{os_.build}"
    if os_.build >= 10240:
        version += f".{os_.ubr}"
    return f"{CRLF}Microsoft Windows [{texts_for(profile.locale).ver_word} {version}]{CRLF}"


def hostname_tool(profile: HostProfile) -> Tool:
    def run(ctx: ToolContext) -> CommandOutput:
        if ctx.argv:
            return ctx.err(HOSTNAME_SET_ERROR, exit_code=1)
        return ctx.out(profile.host_name + CRLF)

    return run


def whoami_tool(ctx: ToolContext) -> CommandOutput:
    """`whoami`: the logon's `domain\\user`, lower case as Windows prints it (switches: UNVERIFIED, refused)."""
    if ctx.argv:
        return ctx.err(
            f"ERROR: Invalid argument/option - '{ctx.argv[0]}'.{CRLF}Type \"WHOAMI /?\" for usage.{CRLF}", exit_code=1
        )
    user = f"{ctx.shell.env.get('USERDOMAIN', '')}\\{ctx.shell.env.get('USERNAME', '')}"
    return ctx.out(user.lower() + CRLF)


def ver_tool(profile: HostProfile) -> Tool:
    def run(ctx: ToolContext) -> CommandOutput:
        return ctx.out(ver_text(profile))

    return run


def _field(name: str, value: str, trailing: str = "") -> str:
    return f"        {name.ljust(19)}: {value}{trailing}{CRLF}"


def sc_tool(profile: HostProfile) -> Tool:
    services: dict[str, bool] = {"eventlog": True, "winrm": True}
    if profile.sysmon.installed:
        services[profile.sysmon.service_name.lower()] = profile.sysmon.running
    missing = texts_for(profile.locale).sc_missing  # §6.2, in the host's language (tool_texts.py)

    def run(ctx: ToolContext) -> CommandOutput:
        args = list(ctx.argv)
        if len(args) != 2 or args[0].lower() != "query":
            return ctx.out(
                "DESCRIPTION:\r\n        SC is a command line program used for communicating with the\r\n"
                "        Service Control Manager and services.\r\n",
                exit_code=ERROR_INVALID_SC_USAGE,
            )
        typed = args[1]
        running = services.get(typed.lower())
        if running is None:
            return ctx.out(missing, exit_code=ERROR_SERVICE_DOES_NOT_EXIST)
        text = CRLF + f"SERVICE_NAME: {typed} {CRLF}"
        text += _field("TYPE", SERVICE_WIN32_OWN_PROCESS, "  ")
        if running:
            text += _field("STATE", STATE_RUNNING, " ")
            text += " " * 32 + CONTROLS_RUNNING + CRLF
            text += _field("WIN32_EXIT_CODE", "0  (0x0)")
        else:
            text += _field("STATE", STATE_STOPPED, " ")
            text += _field("WIN32_EXIT_CODE", ERROR_SERVICE_NEVER_STARTED)
        text += _field("SERVICE_EXIT_CODE", "0  (0x0)")
        text += _field("CHECKPOINT", "0x0")
        text += _field("WAIT_HINT", "0x0")
        return ctx.out(text + CRLF)

    return run


# WMIC is not installed by default from Windows 11 24H2 / Server 2025 (build 26100) on.
WMIC_REMOVED_BUILD = 26100
KB_CMDLINE_AUDIT = "KB3004375"
# Plausible installed updates (assumption); only KB3004375's presence carries meaning here.
BASE_HOTFIXES_7601 = ("KB2479943", "KB2491683", "KB2506212", "KB2533552")
BASE_HOTFIXES = ("KB5005039", "KB5034439", "KB5041160")


def wmic_tool(profile: HostProfile) -> Tool | None:
    """`wmic qfe get HotFixID`: how a cmd-only probe sees KB3004375 (gpo-backup-format.md §A2).

    Layout from memory, UNVERIFIED: a header and one row per update, each padded to the widest
    value plus two spaces, lines ending CR CR LF (wmic's known doubled CR when its output is piped
    or redirected), then one empty such line. Other wmic queries are not emulated.
    """
    if profile.os.build >= WMIC_REMOVED_BUILD:
        return None
    hotfixes = list(BASE_HOTFIXES_7601 if profile.os.build < 9600 else BASE_HOTFIXES)
    if profile.os.kb3004375 and profile.os.build < 9600:
        hotfixes.append(KB_CMDLINE_AUDIT)

    def run(ctx: ToolContext) -> CommandOutput:
        words = [a.lower() for a in ctx.argv]
        if words[:3] != ["qfe", "get", "hotfixid"] or len(words) != 3:
            return ctx.err(
                f"Node - {profile.netbios_name}{CRLF}ERROR:{CRLF}Description = Invalid query{CRLF}", exit_code=1
            )
        width = max(len("HotFixID"), *(len(k) for k in hotfixes)) + 2
        rows = ["HotFixID".ljust(width), *(k.ljust(width) for k in hotfixes), ""]
        return ctx.out("".join(row + "\r" + CRLF for row in rows))

    return run


def build_tools(profile: HostProfile, logs: LogProvider, now: Callable[[], datetime]) -> dict[str, Tool]:
    """Command name (lower case, no .exe) -> tool, for one host."""
    tools: dict[str, Tool] = {
        "hostname": hostname_tool(profile),
        "ver": ver_tool(profile),
        "whoami": whoami_tool,
        "find": find_tool,
        "sc": sc_tool(profile),
        "auditpol": Auditpol(profile),
        "reg": Reg(profile),
        "wevtutil": Wevtutil(profile, logs, now),
        "powershell": PowerShell(profile, now),
    }
    wmic = wmic_tool(profile)
    if wmic is not None:
        tools["wmic"] = wmic
    return tools
