"""The simulator's WS-Management server: one loopback listener per simulated host, WinRS behind it.

One acceptor thread watches every listening socket (so 500 hosts cost 500 sockets, not 500
threads); each accepted TCP connection gets a daemon thread that owns its TLS session and its
auth/encryption context (NTLM and CredSSP are connection-bound, reference/winrm-protocol.md §2.2).
Each Command runs `host.backend.run` once, in its own worker thread, so a slow backend never
blocks a Receive long poll or other hosts.

This module holds the listeners, TLS and the server's lifecycle; HTTP and auth per connection are
server_http.py, the WinRS operations server_winrs.py, the per-host state server_state.py.

Protocol behaviour follows reference/winrm-protocol.md §1 (operations, long poll, faults), §2
(auth, encryption), §4 (quota on un-signalled commands) and §6 (checklist). Injected faults come
from each host's FaultSpec; the client-side symptom each one produces is listed in FAULT_SYMPTOMS.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from auditplan.simulator.accounts import AccountBook, HostIdentity
from auditplan.simulator.auth import (
    ALL_SCHEMES,
    SCHEME_CERTIFICATE,
    SCHEME_CREDSSP,
    SCHEME_NTLM,
    AuthPolicy,
    ConnectionAuth,
    NtlmAcceptorFile,
    cbt_for_certificate,
)
from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.interface import Credentials, SimHost
from auditplan.simulator.server_http import IDLE_CONNECTION_TIMEOUT, Connection, Handler
from auditplan.simulator.server_state import WSMAN_PATH, HostState, HostStats, ShellRecord
from auditplan.simulator.server_winrs import WinRS

TLS_HANDSHAKE_TIMEOUT = 10.0
LISTEN_BACKLOG = 128
STOP_JOIN_TIMEOUT = 2.0

# What a pywinrm 0.5.0 client sees for each FaultSpec field (checked by tests/simulator/test_server_faults.py).
FAULT_SYMPTOMS: dict[str, str] = {
    "latency_ms": "slower responses; requests.exceptions.ReadTimeout if latency exceeds read_timeout_sec",
    "drip_bytes_per_second": "slow bodies; requests.exceptions.ReadTimeout/ConnectionError when too slow",
    "receive_timeouts": "winrm.exceptions.WinRMOperationTimeoutError from get_command_output_raw, N times",
    "hang": "requests.exceptions.ReadTimeout (Receive never answers)",
    "reset_connection": "requests.exceptions.ConnectionError (TCP RST, no response)",
    "http_500_fault": "winrm.exceptions.WSManFaultError with fault_subcode = the configured subcode",
    "reject_credentials": "winrm.exceptions.InvalidCredentialsError (HTTP 401)",
    "access_denied": "winrm.exceptions.WSManFaultError, fault_subcode 'w:AccessDenied' (shape UNVERIFIED)",
    "malformed_xml": "xml.etree.ElementTree.ParseError from the Receive",
    "oversized_output_bytes": "stdout longer by that many junk bytes",
    "tls_broken": "requests.exceptions.SSLError (certificate verify failed)",
}


class FleetServer:
    """Serves every SimHost on its own loopback address and port until stop().

    users: the accounts every host accepts unless its SimHost names its own (SimHost.accounts);
    empty domain = a local account of each host, else an account of the domain it names.
    auth: enabled schemes, a subset of
    {"basic", "ntlm", "credssp", "certificate"}. tls: HTTPS material (None = plain HTTP).
    allow_unencrypted: WinRM's AllowUnencrypted (Basic and plaintext bodies over HTTP).
    enforce_cbt: CbtHardeningLevel=Strict for NTLM over HTTPS. operation_timeout_cap: hold
    Receive long polls at most this long whatever OperationTimeout asks (keeps tests fast).
    max_operations_per_user / max_commands_per_shell: quotas on un-signalled commands (§4).

    Several FleetServers may run in one process, NTLM included: each owns its NTLM user file
    and points NTLM_USER_FILE at it only around its own acceptor steps (see auth.py).
    Backends still running at stop() are waited for briefly, then left as daemon threads.
    Kerberos is not served.
    """

    def __init__(
        self,
        hosts: Sequence[SimHost],
        *,
        users: Sequence[Credentials],
        auth: set[str],
        tls: TlsMaterial | None,
        allow_unencrypted: bool = False,
        enforce_cbt: bool = False,
        operation_timeout_cap: float | None = None,
        max_operations_per_user: int = 1500,
        max_commands_per_shell: int = 1000,
    ) -> None:
        unknown = set(auth) - ALL_SCHEMES
        if unknown:
            raise ValueError(f"unknown auth scheme(s): {', '.join(sorted(unknown))}")
        if not auth:
            raise ValueError("at least one auth scheme must be enabled")
        if SCHEME_CERTIFICATE in auth and tls is None:
            raise ValueError("certificate auth needs TLS material")
        names = [h.name for h in hosts]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"duplicate host name(s): {', '.join(sorted(duplicates))}")
        self._sims = list(hosts)
        self._users = list(users)
        self._books = {sim.name: _account_book(sim, self._users) for sim in hosts}  # bad names fail here
        self._acceptor_file = NtlmAcceptorFile()
        self._schemes = frozenset(auth)
        self._tls = tls
        self._allow_unencrypted = allow_unencrypted
        self._enforce_cbt = enforce_cbt
        self._hosts: dict[str, HostState] = {}
        self._stopping = threading.Event()
        self._winrs = WinRS(
            stopping=self._stopping,
            operation_timeout_cap=operation_timeout_cap,
            max_operations_per_user=max_operations_per_user,
            max_commands_per_shell=max_commands_per_shell,
        )
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._acceptor: threading.Thread | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FleetServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._acceptor is not None:
            raise RuntimeError("FleetServer already started")
        self._stopping.clear()
        self._acceptor_file.open(ntlm=bool(self._schemes & {SCHEME_NTLM, SCHEME_CREDSSP}))
        try:
            trusted, untrusted = self._tls_contexts()
            selector = selectors.DefaultSelector()
            self._selector = selector
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            selector.register(self._wake_r, selectors.EVENT_READ, None)
            for sim in self._sims:
                context = (untrusted if sim.faults.tls_broken else trusted) if self._tls else None
                host = HostState(sim, self._policy(sim), context)
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    listener.bind((sim.address, sim.port))
                except OSError as exc:
                    listener.close()
                    raise OSError(f"host {sim.name}: cannot listen on {sim.address}:{sim.port}: {exc}") from exc
                listener.listen(LISTEN_BACKLOG)
                listener.setblocking(False)
                host.listener = listener
                host.port = listener.getsockname()[1]
                self._hosts[sim.name] = host
                selector.register(listener, selectors.EVENT_READ, host)
        except BaseException:
            self._close_listeners()
            self._acceptor_file.close()
            raise
        self._acceptor = threading.Thread(target=self._accept_loop, name="wsman-acceptor", daemon=True)
        self._acceptor.start()

    def stop(self) -> None:
        """Stop accepting, end every connection and long poll, remove the NTLM user file."""
        if self._acceptor is None:
            return
        self._stopping.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        self._acceptor.join(STOP_JOIN_TIMEOUT)
        self._acceptor = None
        self._close_listeners()
        for host in self._hosts.values():
            with host.cond:
                host.cond.notify_all()
        with self._lock:
            connections = list(self._connections.items())
        for sock, _thread in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + STOP_JOIN_TIMEOUT
        for _sock, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))
        for worker in self._winrs.workers():  # backends are the caller's code: wait briefly, never forever
            worker.join(max(0.0, deadline - time.monotonic()))
        self._acceptor_file.close()

    def _close_listeners(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for host in self._hosts.values():
            if host.listener is not None:
                host.listener.close()
                host.listener = None
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None

    def _tls_contexts(self) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
        if self._tls is None:
            return None, None
        contexts = []
        for cert, key in (
            (self._tls.server_cert, self._tls.server_key),
            (self._tls.untrusted_server_cert, self._tls.untrusted_server_key),
        ):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert, key)
            if SCHEME_CERTIFICATE in self._schemes:
                # Optional, so Basic/NTLM clients without a certificate still get through.
                context.verify_mode = ssl.CERT_OPTIONAL
                context.load_verify_locations(self._tls.ca_cert)
            contexts.append(context)
        return contexts[0], contexts[1]

    def _policy(self, sim: SimHost) -> AuthPolicy:
        bindings = None
        if self._tls is not None and self._enforce_cbt:
            cert = self._tls.untrusted_server_cert if sim.faults.tls_broken else self._tls.server_cert
            bindings = cbt_for_certificate(ssl.PEM_cert_to_DER_cert(cert.read_text(encoding="ascii")))
        return AuthPolicy(
            schemes=self._schemes,
            accounts=self._books[sim.name],
            acceptor_file=self._acceptor_file,
            tls=self._tls is not None,
            allow_unencrypted=self._allow_unencrypted,
            channel_bindings=bindings,
        )

    # --- queries ------------------------------------------------------------------------------

    def endpoint(self, name: str) -> tuple[str, int]:
        host = self._host(name)
        return host.sim.address, host.port

    def url(self, name: str) -> str:
        address, port = self.endpoint(name)
        return f"{self._host(name).scheme}://{address}:{port}{WSMAN_PATH}"

    def stats(self, name: str) -> HostStats:
        return self._host(name).counters.snapshot()

    def reset_stats(self) -> None:
        for host in self._hosts.values():
            host.counters.reset()

    def shells(self, name: str) -> list[ShellRecord]:
        """The shells open on a host, with the options their Create asked for."""
        host = self._host(name)
        with host.cond:
            return [
                ShellRecord(
                    s.shell_id,
                    s.owner,
                    s.codepage,
                    s.noprofile,
                    dict(s.environment),
                    s.working_directory,
                    len(s.commands),
                )
                for s in host.shells.values()
            ]

    def _host(self, name: str) -> HostState:
        try:
            return self._hosts[name]
        except KeyError:
            raise KeyError(f"no simulated host named {name!r} is being served") from None

    # --- connections --------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        selector = self._selector
        assert selector is not None
        while not self._stopping.is_set():
            try:
                events = selector.select()
            except (OSError, ValueError):
                return
            for key, _mask in events:
                host = key.data
                if host is None:
                    return  # woken by stop()
                while True:
                    try:
                        sock, peer = key.fileobj.accept()  # type: ignore[union-attr]
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    sock.setblocking(True)
                    thread = threading.Thread(
                        target=self._serve_connection,
                        args=(host, sock, peer),
                        name=f"wsman-{host.sim.name}",
                        daemon=True,
                    )
                    with self._lock:
                        if self._stopping.is_set():
                            sock.close()
                            return
                        self._connections[sock] = thread
                    thread.start()

    def _serve_connection(self, host: HostState, raw: socket.socket, peer: Any) -> None:
        host.counters.connection()
        sock = raw
        try:
            peer_cert = None
            if host.tls_context is not None:
                raw.settimeout(TLS_HANDSHAKE_TIMEOUT)
                sock = host.tls_context.wrap_socket(raw, server_side=True)
                peer_cert = sock.getpeercert()  # type: ignore[attr-defined]
                with self._lock:  # stop() must shut down the socket the handler actually reads
                    self._connections[sock] = self._connections.pop(raw, threading.current_thread())
            sock.settimeout(IDLE_CONNECTION_TIMEOUT)
            conn = Connection(self._winrs, self._stopping, host, ConnectionAuth(host.policy, peer_cert), sock)
            Handler(sock, peer, conn)
        except (OSError, ssl.SSLError, ValueError):
            pass  # client went away or the TLS handshake failed: nothing to answer
        finally:
            with self._lock:
                self._connections.pop(sock, None)
                self._connections.pop(raw, None)
            with contextlib.suppress(OSError):
                sock.close()


def _account_book(sim: SimHost, fleet_accounts: Sequence[Credentials]) -> AccountBook:
    major, minor, build = sim.os_version
    identity = HostIdentity(sim.computer_name or sim.name, os_major=major, os_minor=minor, os_build=build)
    return AccountBook(identity, sim.accounts if sim.accounts is not None else fleet_accounts)
