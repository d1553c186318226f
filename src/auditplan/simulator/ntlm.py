"""The simulated host's NTLM acceptor: pyspnego's NTLMProxy with the host's own names and accounts.

pyspnego's acceptor names the machine it runs on in the CHALLENGE (socket.gethostname(), domain
"WORKSTATION") and finds users in NTLM_USER_FILE by an exact DOMAIN match. A Windows host names
itself and its domain, and maps `HOST\\user`, `.\\user`, `user@HOST`, `DOMAIN\\user` and
`user@domain.fqdn` to its accounts (simulator/accounts.py). Two steps are therefore replaced:

- the CHALLENGE (MS-NLMP 3.2.5.1.1 "Server Receives a NEGOTIATE_MESSAGE from the Client",
  https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/81d15e3e-3ac3-41f0-920d-846149f3a814):
  a domain member answers TargetName = its NetBIOS domain name with NTLMSSP_TARGET_TYPE_DOMAIN, a
  workgroup host its computer name with NTLMSSP_TARGET_TYPE_SERVER; TargetInfo (AV_PAIR, 2.2.2.1,
  https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/83f5e789-660d-4781-8491-5f8c6641f75e)
  carries MsvAvNbComputerName, MsvAvNbDomainName, MsvAvDnsComputerName, MsvAvDnsDomainName,
  MsvAvDnsTreeName (a one-domain forest: the domain) and MsvAvTimestamp; Version = the host's OS.
- the account lookup of the AUTHENTICATE (2.2.1.3): the NTLMv2 response is checked with the NT hash
  of the account AccountBook.resolve finds, keyed with the UserName and DomainName the client sent
  (NTOWFv2 uses UserDom as typed: 3.3.2,
  https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-nlmp/5e550938-91d4-459f-b67d-75d70009e3f3).

The rest (session keys, MIC, channel bindings, sealing) is pyspnego's, unchanged. This leans on
pyspnego internals (spnego._ntlm, spnego._ntlm_raw; pinned by pyproject's pyspnego>=0.12); the
NTLM tests in tests/simulator fail loudly if a release moves them.
"""

from __future__ import annotations

import os
import typing

from spnego._credential import NTLMHash
from spnego._ntlm import NTLMProxy, _NTLMCredential
from spnego._ntlm_raw.crypto import compute_response_v1, compute_response_v2, md5, ntowfv1, ntowfv2, rc4k
from spnego._ntlm_raw.messages import (
    Authenticate,
    AvFlags,
    AvId,
    Challenge,
    FileTime,
    Negotiate,
    NegotiateFlags,
    NTClientChallengeV2,
    TargetInfo,
    Version,
)
from spnego.channel_bindings import GssChannelBindings
from spnego.exceptions import (
    BadBindingsError,
    ErrorCode,
    InvalidTokenError,
    OperationNotAvailableError,
    SpnegoError,
)

from auditplan.simulator.accounts import AccountBook, HostIdentity

NTLM_REVISION_W2K3 = 0x0F  # MS-NLMP 2.2.2.10: NTLMSSP_REVISION_W2K3


def target_info(identity: HostIdentity) -> TargetInfo:
    """The CHALLENGE's AV pairs for `identity` (order as Windows sends them)."""
    info = TargetInfo()
    info[AvId.nb_domain_name] = identity.netbios_domain
    info[AvId.nb_computer_name] = identity.netbios_name
    if identity.joined:
        info[AvId.dns_domain_name] = identity.dns_domain
        info[AvId.dns_computer_name] = identity.dns_computer_name
        info[AvId.dns_tree_name] = identity.dns_domain
    else:
        info[AvId.dns_domain_name] = identity.netbios_name
        info[AvId.dns_computer_name] = identity.netbios_name
    info[AvId.timestamp] = FileTime.now()
    return info


class HostNtlmAcceptor(NTLMProxy):
    """One NTLM acceptor context of one simulated host (one TCP connection)."""

    def __init__(
        self,
        accounts: AccountBook,
        channel_bindings: GssChannelBindings | None = None,
    ) -> None:
        # NTLMProxy's accept mode insists that NTLM_USER_FILE names a file; the caller points it
        # at an empty one (auth.py), since this class never reads it.
        super().__init__(usage="accept", protocol="ntlm", channel_bindings=channel_bindings)
        self._accounts = accounts

    def _step_accept_negotiate(self, token: bytes) -> bytes:
        negotiate = Negotiate.unpack(token)
        identity = self._accounts.identity
        flags = (
            negotiate.flags
            | NegotiateFlags.request_target
            | NegotiateFlags.ntlm
            | NegotiateFlags.always_sign
            | NegotiateFlags.target_info
            | (NegotiateFlags.target_type_domain if identity.joined else NegotiateFlags.target_type_server)
        )
        if flags & NegotiateFlags.unicode:
            flags &= ~NegotiateFlags.oem
        elif flags & NegotiateFlags.oem == 0:
            raise SpnegoError(ErrorCode.failure, context_msg="Neither NEGOTIATE_OEM nor NEGOTIATE_UNICODE was set")
        if flags & NegotiateFlags.extended_session_security:
            flags &= ~NegotiateFlags.lm_key
        kwargs: dict[str, typing.Any] = {}
        if flags & NegotiateFlags.version:
            kwargs["version"] = Version(
                major=identity.os_major, minor=identity.os_minor, build=identity.os_build, revision=NTLM_REVISION_W2K3
            )
        challenge = Challenge(
            flags,
            os.urandom(8),
            target_name=identity.netbios_domain if identity.joined else identity.netbios_name,
            target_info=target_info(identity),
            **kwargs,
        )
        self._temp_negotiate = negotiate
        self._temp_challenge = challenge
        return challenge.pack()

    def _step_accept_authenticate(self, token: bytes, channel_bindings: GssChannelBindings | None) -> None:
        negotiate = typing.cast(Negotiate, self._temp_negotiate)
        challenge = typing.cast(Challenge, self._temp_challenge)
        server_challenge = challenge.server_challenge
        auth = Authenticate.unpack(token)
        if not auth.user_name or (
            not auth.nt_challenge_response and (not auth.lm_challenge_response or auth.lm_challenge_response == b"\x00")
        ):
            raise OperationNotAvailableError(context_msg="Anonymous logon is not accepted")
        principal = self._accounts.resolve(auth.domain_name or "", auth.user_name)
        if principal is None:
            raise InvalidTokenError(context_msg="no such account on this host")
        nt_hash = ntowfv1(principal.credentials.password)
        self._credential = _NTLMCredential(NTLMHash(username=str(principal), nt_hash=nt_hash.hex()))
        expected_mic = None

        if auth.nt_challenge_response and len(auth.nt_challenge_response) > 24:
            response_key = ntowfv2(auth.user_name, nt_hash, auth.domain_name)
            nt_challenge = NTClientChallengeV2.unpack(auth.nt_challenge_response[16:])
            client_info = nt_challenge.av_pairs
            expected_nt, expected_lm, key_exchange_key = compute_response_v2(
                response_key, server_challenge, nt_challenge.challenge_from_client, nt_challenge.time_stamp, client_info
            )
            if channel_bindings:
                if AvId.channel_bindings not in client_info:
                    raise BadBindingsError(context_msg="Acceptor bindings specified but absent from the response")
                if client_info[AvId.channel_bindings] not in (md5(channel_bindings.pack()), b"\x00" * 16):
                    raise BadBindingsError(context_msg="Acceptor bindings do not match initiator bindings")
            if client_info.get(AvId.flags, 0) & AvFlags.mic:
                expected_mic = auth.mic
        else:
            if not self._nt_v1:
                raise InvalidTokenError(context_msg="NTLMv1 responses are refused")
            client_challenge = b"\x00" * 8
            if auth.flags & NegotiateFlags.extended_session_security:
                client_challenge = (auth.lm_challenge_response or b"\x00" * 8)[:8]
            expected_nt, expected_lm, key_exchange_key = compute_response_v1(
                auth.flags,
                nt_hash,
                self._credential.lm_hash,
                server_challenge,
                client_challenge,
                no_lm_response=not self._lm,
            )

        if auth.nt_challenge_response:
            ok = auth.nt_challenge_response == expected_nt
        else:
            ok = bool(auth.lm_challenge_response) and auth.lm_challenge_response == expected_lm
        if not ok:
            raise InvalidTokenError(context_msg="Invalid NTLM response from initiator")

        if auth.flags & NegotiateFlags.key_exch and auth.flags & (NegotiateFlags.sign | NegotiateFlags.seal):
            self._session_key = rc4k(key_exchange_key, auth.encrypted_random_session_key or b"")
        else:
            self._session_key = key_exchange_key
        if expected_mic:
            auth.mic = b"\x00" * 16
            actual_mic = self._calculate_mic(self.session_key, negotiate.pack(), challenge.pack(), auth.pack())
            if actual_mic != expected_mic:
                raise InvalidTokenError(context_msg="Invalid MIC in NTLM authentication message")
        self._context_attr = auth.flags
        self._complete = True
