"""Sign-In with Ethereum (EIP-4361): nonces, message checks and signatures.

The app asks for a nonce, has the wallet sign an EIP-4361 message carrying
it, and posts message and signature. We check every field the standard
lets a relying party check (domain, URI, chain id, nonce, issued-at,
expiration, not-before), then the signature: first as an ordinary account
(EOA), then, when an RPC node is configured for the chain, through the
contract's EIP-1271 ``isValidSignature``. The nonce is consumed only after
the signature holds, in the same transaction that opens the session, so a
replayed message finds its nonce gone and nothing is half-written.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import pydantic
import requests
from eth_account import Account
from eth_account.messages import SignableMessage, encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError
from siwe import SiweMessage
from siwe.siwe import check_contract_wallet_signature
from web3 import HTTPProvider, Web3
from web3.exceptions import Web3Exception

from app.config import ApiConfig, ConfigError, Settings
from app.db import retry_lock_conflicts, write_transaction
from app.errors import AuthFailed, InvalidInput, Unavailable
from app.models import SignInNonce, utcnow
from app.sessions import SessionGrant, open_session, sweep_expired_sessions

log = logging.getLogger(__name__)

_SIGNATURE = re.compile(r"0x(?:[0-9a-fA-F]{2}){1,4096}")
MAX_MESSAGE_CHARS = 4096


@dataclass(frozen=True)
class IssuedNonce:
    nonce: str
    expires_at: dt.datetime


def issue_nonce(config: ApiConfig) -> IssuedNonce:
    """A fresh single-use nonce; expired ones are swept on the way.

    The sweep is its own statement, not part of a transaction with the
    insert: on InnoDB two such transactions would each hold the gap lock of
    the range the other inserts into, and deadlock.
    """
    now = utcnow()
    nonce = secrets.token_hex(16)
    expires_at = now + dt.timedelta(seconds=config.nonce_ttl)
    SignInNonce.create(nonce=nonce, created_at=now, expires_at=expires_at)
    SignInNonce.delete().where(SignInNonce.expires_at <= now).execute()
    return IssuedNonce(nonce, expires_at)


def sign_in(
    message: str,
    signature: str,
    settings: Settings,
    verified: Callable[[str], None] | None = None,
) -> SessionGrant:
    """Verify a signed EIP-4361 message and open a session for its wallet.

    ``verified`` is told the wallet once its signature holds, before the
    nonce is spent: it may still refuse (the API's per-wallet limit).
    """
    config = settings.api
    now = dt.datetime.now(dt.UTC)
    parsed = parse_message(message)
    check_fields(parsed, config, now)
    rpc_url = rpc_url_for(settings, parsed.chain_id)
    verify_signature(message, parsed, signature, rpc_url, config.rpc_timeout)
    if verified is not None:
        verified(parsed.address.lower())

    grant = _admit(parsed, config)
    log.info("wallet %s signed in on chain %s", grant.wallet, parsed.chain_id)
    sweep_expired_sessions()
    return grant


@retry_lock_conflicts()
def _admit(parsed: SiweMessage, config: ApiConfig) -> SessionGrant:
    """Spend the nonce and open the session, both or neither."""
    with write_transaction():
        consume_nonce(parsed.nonce)
        return open_session(
            parsed.address.lower(),
            parsed.chain_id,
            config.session_ttl,
            _expiry(parsed),
        )


def parse_message(message: str) -> SiweMessage:
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidInput("bad_message", "the message is too long", field="message")
    try:
        return SiweMessage.from_message(message)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        reason = f"{where}: {first['msg']}"[:200]
    except (ValueError, TypeError):
        reason = "it does not follow the EIP-4361 grammar"
    raise InvalidInput(
        "bad_message", f"not an EIP-4361 message: {reason}", field="message"
    )


def check_fields(parsed: SiweMessage, config: ApiConfig, now: dt.datetime) -> None:
    """Every check on the message text itself, cheapest first."""
    if parsed.domain != config.siwe_domain:
        raise AuthFailed("domain_mismatch", f"domain must be {config.siwe_domain}")
    if not _uri_allowed(parsed.uri, config.siwe_origins):
        raise AuthFailed("uri_mismatch", "URI is not under an allowed origin")
    if parsed.chain_id not in config.siwe_chain_ids:
        raise AuthFailed("chain_not_allowed", f"chain {parsed.chain_id} not accepted")

    skew = dt.timedelta(seconds=config.clock_skew)
    issued = _instant(parsed.issued_at, "Issued At")
    if issued > now + skew:
        raise AuthFailed("issued_at_invalid", "Issued At is in the future")
    if issued < now - dt.timedelta(seconds=config.message_max_age):
        raise AuthFailed("issued_at_invalid", "Issued At is too old: sign again")

    if parsed.expiration_time and _instant(parsed.expiration_time, "Expiration") <= now:
        raise AuthFailed("message_expired", "the message has expired")
    if parsed.not_before and _instant(parsed.not_before, "Not Before") > now + skew:
        raise AuthFailed("message_not_yet_valid", "the message is not valid yet")


def verify_signature(
    message: str,
    parsed: SiweMessage,
    signature: str,
    rpc_url: str | None,
    timeout: float = 5.0,
) -> None:
    """EOA recovery, then EIP-1271 over RPC when a node is configured.

    The signature is checked over the text as posted (what the wallet
    showed), not over a re-serialisation of the parsed fields.
    """
    if not isinstance(signature, str) or not _SIGNATURE.fullmatch(signature):
        raise AuthFailed("bad_signature", "signature must be 0x-prefixed hex bytes")
    signable = encode_defunct(text=message)
    if _recover(signable, signature) == parsed.address:
        return
    if rpc_url is None:
        raise AuthFailed("bad_signature", "the signature does not match")

    w3 = Web3(_provider(rpc_url, timeout))
    try:
        valid = check_contract_wallet_signature(parsed.address, signable, signature, w3)
    except (requests.RequestException, Web3Exception, OSError) as exc:
        log.warning(
            "EIP-1271 check for %s on chain %s failed: %s",
            parsed.address,
            parsed.chain_id,
            type(exc).__name__,
        )
        raise Unavailable("rpc_unavailable", "the chain's RPC node failed") from None
    if not valid:
        raise AuthFailed("bad_signature", "the signature does not match")


def _recover(signable: SignableMessage, signature: str) -> str | None:
    """The signing account, or None when the bytes are no ECDSA signature."""
    try:
        return Account.recover_message(signable, signature=signature)
    except (ValueError, TypeError, IndexError, ValidationError, BadSignature):
        return None


def consume_nonce(nonce: str) -> None:
    """Delete the nonce if live; a count of zero means unknown or replayed."""
    gone = (
        SignInNonce.delete()
        .where((SignInNonce.nonce == nonce) & (SignInNonce.expires_at > utcnow()))
        .execute()
    )
    if gone != 1:
        log.warning("sign-in with unknown, expired or used nonce refused")
        raise AuthFailed("nonce_invalid", "nonce unknown, expired or already used")


def rpc_url_for(settings: Settings, chain_id: int) -> str | None:
    """``EIP1271_RPC_URLS`` first, then the first RPC URL of a known chain."""
    url = settings.api.eip1271_rpc_urls.get(chain_id)
    if url:
        return url
    try:
        chains = settings.chains()
    except ConfigError:
        return None
    return next((c.rpc_urls[0] for c in chains if c.chain_id == chain_id), None)


def _provider(url: str, timeout: float = 5.0) -> HTTPProvider:
    # No hidden retries: one bounded call, so a dead node costs one timeout.
    return HTTPProvider(
        url,
        request_kwargs={"timeout": timeout},
        exception_retry_configuration=None,
    )


def _uri_allowed(uri: str, origins: tuple[str, ...]) -> bool:
    uri = str(uri)
    return any(uri == o or uri.startswith(o + "/") for o in origins)


def _instant(value: str, name: str) -> dt.datetime:
    """An RFC 3339 time with its offset, in UTC; a time without an offset is
    ambiguous, and one whose offset carries it past year 1 or 9999 has no
    UTC instant to compare or store."""
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("bad_message", f"{name} is not RFC 3339") from None
    if parsed.tzinfo is None:
        raise InvalidInput("bad_message", f"{name} needs a UTC offset")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput("bad_message", f"{name} is out of range") from None


def _expiry(parsed: SiweMessage) -> dt.datetime | None:
    if not parsed.expiration_time:
        return None
    return _instant(parsed.expiration_time, "Expiration")
