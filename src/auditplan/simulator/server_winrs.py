"""WinRS over WS-Management: Create, Command, Receive (long poll), Send, Signal, Delete.

Each Command runs `host.backend.run` once, in its own worker thread, so a slow backend never
blocks a Receive long poll or other hosts. Protocol behaviour follows reference/winrm-protocol.md
§1 (operations, long poll, faults) and §4 (quota on un-signalled commands). The WS-Man faults of
a host's FaultSpec are injected here: access denied, HTTP 500 faults, Receive timeouts, hangs,
malformed XML, oversized output.
"""

from __future__ import annotations

import select
import socket
import threading
import time

from auditplan.simulator import catalog, wsman
from auditplan.simulator.interface import CommandOutput, SessionBackend
from auditplan.simulator.server_state import WSMAN_PATH, CommandState, HostState, ShellState

DEFAULT_OPERATION_TIMEOUT = 60.0  # WinRM's MaxTimeoutms default when a request names none; UNVERIFIED
HANG_POLL_INTERVAL = 0.1
OVERSIZE_JUNK = bytes(range(256))


class WinRS:
    """The shell operations of every host of one server. `stopping` is the server's stop event."""

    def __init__(
        self,
        *,
        stopping: threading.Event,
        operation_timeout_cap: float | None,
        max_operations_per_user: int,
        max_commands_per_shell: int,
    ) -> None:
        self._stopping = stopping
        self._operation_timeout_cap = operation_timeout_cap
        self._max_ops_per_user = max_operations_per_user
        self._max_cmds_per_shell = max_commands_per_shell
        self._lock = threading.Lock()
        self._workers: set[threading.Thread] = set()

    def workers(self) -> list[threading.Thread]:
        """Backend threads still running."""
        with self._lock:
            return list(self._workers)

    def dispatch(
        self, host: HostState, sock: socket.socket, user: str, request: wsman.Request
    ) -> tuple[int, bytes] | None:
        """Answer one authenticated request on `sock`: (HTTP status, SOAP body), or None when a hang
        ended (the client gave up or the server is stopping) and the connection must be dropped."""
        machine = host.sim.address
        mid = request.message_id
        faults = host.sim.faults
        action = request.action
        if action == wsman.ACTION_CREATE:
            if faults.access_denied:
                # A valid account without WinRM rights; the fault shape is UNVERIFIED (reference §1.6).
                return 500, wsman.fault_response(mid, wsman.KNOWN_FAULTS[wsman.SUBCODE_ACCESS_DENIED], machine)
            if faults.http_500_fault:
                return 500, wsman.fault_response(mid, wsman.fault_for_subcode(faults.http_500_fault), machine)
            if not catalog.serves(request.resource_uri):
                # A PSRP RunspacePool (or any shell but cmd) faults here, not one step later.
                fault = catalog.invalid_resource_uri_fault(request.resource_uri or "")
                return 500, wsman.fault_response(mid, fault, machine)
            return self._create(host, sock, user, request)
        if action not in (
            wsman.ACTION_COMMAND,
            wsman.ACTION_RECEIVE,
            wsman.ACTION_SEND,
            wsman.ACTION_SIGNAL,
            wsman.ACTION_DELETE,
        ):
            return 500, wsman.fault_response(mid, wsman.KNOWN_FAULTS[wsman.SUBCODE_ACTION_NOT_SUPPORTED], machine)
        shell_id = (request.shell_id or "").upper()
        with host.cond:
            shell = host.shells.get(shell_id)
        if shell is None:
            return 500, wsman.fault_response(mid, wsman.unknown_shell_fault(request.shell_id or ""), machine)
        body = request.body
        if isinstance(body, wsman.RunCommand):
            return self._command(host, shell, user, mid, body, request)
        if isinstance(body, wsman.ReceiveOutput):
            return self._receive(host, sock, shell, mid, body, request)
        if isinstance(body, wsman.SendInput):
            with host.cond:
                for stream in body.streams:
                    cmd = shell.commands.get((stream.command_id or "").upper())
                    if cmd is None:
                        return 500, wsman.fault_response(mid, wsman.unknown_command_fault(), machine)
                    cmd.stdin += stream.data  # the CommandBackend contract takes no stdin; kept for tests
            return 200, wsman.send_response(mid)
        if isinstance(body, wsman.SignalCommand):
            with host.cond:
                cmd = shell.commands.get((body.command_id or "").upper())
                if cmd is None:
                    return 500, wsman.fault_response(mid, wsman.unknown_command_fault(), machine)
                if body.code not in (wsman.SIGNAL_TERMINATE, wsman.SIGNAL_CTRL_C, wsman.SIGNAL_CTRL_BREAK):
                    return 500, wsman.fault_response(
                        mid, wsman.KNOWN_FAULTS[wsman.SUBCODE_SCHEMA_VALIDATION_ERROR], machine
                    )
                # Terminate/ctrl_c end the command and release its operation (reference §4).
                del shell.commands[cmd.command_id]
                host.cond.notify_all()
            return 200, wsman.signal_response(mid)
        # Delete: MS-WSMV 3.1.4.4.1, commands in progress are terminated and everything freed.
        with host.cond:
            host.shells.pop(shell_id, None)
            host.cond.notify_all()
        return 200, wsman.delete_response(mid)

    def _create(self, host: HostState, sock: socket.socket, user: str, request: wsman.Request) -> tuple[int, bytes]:
        body = request.body
        assert isinstance(body, wsman.CreateShell)
        try:
            codepage = int(request.options.get(wsman.OPTION_CODEPAGE, wsman.DEFAULT_CODEPAGE))
        except ValueError:
            codepage = wsman.DEFAULT_CODEPAGE
        shell = ShellState(
            shell_id=wsman.new_guid(),
            owner=user,
            codepage=codepage,
            noprofile=request.option_bool(wsman.OPTION_NOPROFILE, False),
            environment=dict(body.environment),
            working_directory=body.working_directory,
            input_streams=body.input_streams or ("stdin",),
            output_streams=body.output_streams or ("stdout", "stderr"),
        )
        with host.cond:
            host.shells[shell.shell_id] = shell
        address = f"{host.scheme}://{host.sim.address}:{host.port}{WSMAN_PATH}"
        info = wsman.ShellInfo(
            shell_id=shell.shell_id,
            # The Create answer a real host gave (reference §1.3) names the bare user ("vagrant").
            owner=user.rsplit("\\", 1)[-1],
            client_ip=str(sock.getpeername()[0]) if sock.fileno() >= 0 else "",
            input_streams=shell.input_streams,
            output_streams=shell.output_streams,
        )
        return 200, wsman.create_response(request.message_id, address, info)

    def _command(
        self, host: HostState, shell: ShellState, user: str, mid: str, body: wsman.RunCommand, request: wsman.Request
    ) -> tuple[int, bytes]:
        machine = host.sim.address
        with host.cond:
            if len(shell.commands) >= self._max_cmds_per_shell:
                return 500, wsman.fault_response(mid, wsman.commands_quota_fault(), machine)
            if host.operations_of(user) >= self._max_ops_per_user:
                return 500, wsman.fault_response(mid, wsman.operations_quota_fault(self._max_ops_per_user), machine)
            cmd = CommandState(wsman.new_guid(), user, host.sim.faults.receive_timeouts)
            shell.commands[cmd.command_id] = cmd
        line = " ".join((body.command, *body.arguments))
        skip_cmd_shell = request.option_bool(wsman.OPTION_SKIP_CMD_SHELL, False)
        if not skip_cmd_shell and len(line) > wsman.CMD_LINE_LIMIT:
            # cmd.exe refuses the line before running anything (reference §1.5).
            self._finish(
                host, cmd, CommandOutput(b"", wsman.CMD_LINE_TOO_LONG_STDERR, wsman.CMD_LINE_TOO_LONG_EXIT_CODE)
            )
        else:
            worker = threading.Thread(
                target=self._run_backend, args=(host, cmd, body, shell.codepage), name=f"backend-{host.sim.name}",
                daemon=True,
            )
            with self._lock:
                self._workers.add(worker)
            worker.start()
        return 200, wsman.command_response(mid, cmd.command_id)

    def _run_backend(self, host: HostState, cmd: CommandState, body: wsman.RunCommand, codepage: int) -> None:
        try:
            # The client chose the output code page when it created the shell (WINRS_CODEPAGE).
            backend = host.sim.backend
            if isinstance(backend, SessionBackend):
                output = backend.run_as(cmd.owner, body.command, body.arguments, codepage)
            else:
                output = backend.run(body.command, body.arguments, codepage)
        except Exception as exc:  # a broken backend must look like a failed command, not a dead server
            output = CommandOutput(b"", f"simulator backend failed: {type(exc).__name__}\r\n".encode(), 1)
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())
        self._finish(host, cmd, output)

    def _finish(self, host: HostState, cmd: CommandState, output: CommandOutput) -> None:
        stdout = output.stdout
        extra = host.sim.faults.oversized_output_bytes
        if extra > 0:
            stdout += (OVERSIZE_JUNK * (extra // len(OVERSIZE_JUNK) + 1))[:extra]
        with host.cond:
            cmd.stdout, cmd.stderr, cmd.exit_code = stdout, output.stderr, output.exit_code
            cmd.finished = True
            host.cond.notify_all()

    def _hold(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _poll_seconds(self, request: wsman.Request) -> float:
        seconds = request.operation_timeout if request.operation_timeout is not None else DEFAULT_OPERATION_TIMEOUT
        if self._operation_timeout_cap is not None:
            seconds = min(seconds, self._operation_timeout_cap)
        return max(0.0, seconds)

    def _receive(
        self,
        host: HostState,
        sock: socket.socket,
        shell: ShellState,
        mid: str,
        body: wsman.ReceiveOutput,
        request: wsman.Request,
    ) -> tuple[int, bytes] | None:
        machine = host.sim.address
        faults = host.sim.faults
        command_id = (body.command_id or "").upper()
        with host.cond:
            cmd = shell.commands.get(command_id)
        if cmd is None:
            return 500, wsman.fault_response(mid, wsman.unknown_command_fault(), machine)
        if faults.malformed_xml:
            return 200, wsman.MALFORMED_BODY
        if faults.hang:
            self._hang(sock)
            return None
        def timed_out() -> tuple[int, bytes]:
            # Counted so tests can tell a long-poll repeat from a request the client did not need.
            host.counters.receive_timed_out()
            return 500, wsman.fault_response(mid, wsman.timed_out_fault(), machine)

        wait = self._poll_seconds(request)
        if cmd.timeouts_left > 0:
            with host.cond:
                cmd.timeouts_left -= 1
            self._hold(wait)
            return timed_out()
        deadline = time.monotonic() + wait
        with host.cond:
            while not cmd.finished:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    return timed_out()
                if shell.commands.get(command_id) is not cmd:  # signalled or shell deleted meanwhile
                    return 500, wsman.fault_response(mid, wsman.unknown_command_fault(), machine)
                host.cond.wait(remaining)
            budget = wsman.receive_chunk_bytes(request.max_envelope_size)
            out = cmd.stdout[cmd.sent_stdout : cmd.sent_stdout + budget]
            cmd.sent_stdout += len(out)
            err = cmd.stderr[cmd.sent_stderr : cmd.sent_stderr + budget - len(out)]
            cmd.sent_stderr += len(err)
            done = cmd.sent_stdout >= len(cmd.stdout) and cmd.sent_stderr >= len(cmd.stderr)
            exit_code = cmd.exit_code
        payload = wsman.receive_response(
            mid,
            cmd.command_id,
            [("stdout", out), ("stderr", err)],
            done=done,
            exit_code=exit_code if done else None,
        )
        return 200, payload

    def _hang(self, sock: socket.socket) -> None:
        """Never answer: wait until the client closes the connection or the server stops."""
        while not self._stopping.wait(HANG_POLL_INTERVAL):
            try:
                readable, _, _ = select.select([sock], [], [], 0)
            except (OSError, ValueError):
                return
            if readable:  # EOF (or anything else) from a client that should be waiting: give up
                return
