"""Sign-In with Ethereum routes: nonce, login, logout, current session."""

from __future__ import annotations

from flask import current_app

from app import auth
from app.api.blueprint import ApiBlueprint
from app.api.errors import BODY_CODES, documents
from app.api.limits import count_verified_sign_in, nonce_limits, signin_limits
from app.api.schemas import LoginResultSchema, LoginSchema, NonceSchema, SessionSchema
from app.api.session import SESSION_CODES, current_session, end_session, remember

blp = ApiBlueprint(
    "auth",
    __name__,
    url_prefix="/apis/v1/auth",
    description="Sign-In with Ethereum (EIP-4361, EIP-1271) and bearer sessions",
)

LOGIN_CODES = (
    *BODY_CODES,
    "bad_message",
    "bad_signature",
    "nonce_invalid",
    "domain_mismatch",
    "uri_mismatch",
    "chain_not_allowed",
    "message_expired",
    "message_not_yet_valid",
    "issued_at_invalid",
    "rpc_unavailable",
)


@blp.route("/nonce", methods=["POST"])
@nonce_limits
@blp.response(200, NonceSchema)
@documents(blp)
def nonce() -> dict:
    """Hand out a single-use nonce for the next sign-in message.

    It expires after `SIWE_NONCE_TTL_SECONDS` (default 300 s). The answer
    also says which domain, URI and chain ids the message must carry.
    """
    config = current_app.config["SETTINGS"].api
    issued = auth.issue_nonce(config)
    return {
        "nonce": issued.nonce,
        "expires_at": issued.expires_at,
        "domain": config.siwe_domain,
        "uri": config.siwe_origins[0],
        "chain_ids": list(config.siwe_chain_ids),
    }


@blp.route("/login", methods=["POST"])
@signin_limits
@blp.arguments(LoginSchema())
@blp.response(200, LoginResultSchema)
@documents(blp, *LOGIN_CODES)
def login(body: dict) -> dict:
    """Exchange a signed EIP-4361 message for a bearer session of its wallet.

    The message must name this server's domain, an allowed URI and chain id,
    a nonce from `/nonce` (usable once), and be freshly issued. Contract
    wallets are checked through EIP-1271 on the chain's RPC node.
    """
    grant = auth.sign_in(
        body["message"],
        body["signature"],
        current_app.config["SETTINGS"],
        verified=count_verified_sign_in,
    )
    remember(grant)
    return {
        "token": grant.token,
        "wallet": grant.wallet,
        "expires_at": grant.expires_at,
    }


@blp.route("/session", methods=["GET"])
@blp.response(200, SessionSchema)
@documents(blp, *SESSION_CODES, security=[{"bearer": []}])
def session() -> dict:
    """The wallet and expiry of the bearer session sent."""
    info = current_session()
    return {
        "wallet": info.wallet,
        "chain_id": info.chain_id,
        "expires_at": info.expires_at,
    }


@blp.route("/logout", methods=["POST"])
@blp.response(204)
@documents(blp, *SESSION_CODES, security=[{"bearer": []}])
def logout() -> None:
    """End the bearer session sent; device tokens stay registered."""
    end_session()
