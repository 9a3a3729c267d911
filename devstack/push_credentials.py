"""Development push credentials pointing the server at the local fakes.

Nothing here is a secret: the FCM service account and the APNs key are
freshly generated and only the fakes ever see what they sign.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

DEV_PROJECT = "epns-dev"
DEV_TOPIC = "io.epns.dev"
DEV_KEY_ID = "DEVKEY0001"
DEV_TEAM_ID = "DEVTEAM001"


def make_dev_credentials(
    directory: str | Path,
    fcm_url: str,
    apns_host: str,
    apns_port: int,
    apns_ca_file: str | Path,
) -> dict[str, str]:
    """Write an FCM service account and an APNs .p8 key; return the env vars."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fcm_url = fcm_url.rstrip("/")

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = {
        "type": "service_account",
        "project_id": DEV_PROJECT,
        "private_key_id": "dev",
        "private_key": _pem(rsa_key),
        "client_email": f"push@{DEV_PROJECT}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"{fcm_url}/token",
    }
    fcm_file = directory / "fcm-service-account.json"
    fcm_file.write_text(json.dumps(account, indent=2))

    apns_file = directory / f"AuthKey_{DEV_KEY_ID}.p8"
    apns_file.write_text(_pem(ec.generate_private_key(ec.SECP256R1())))
    for path in (fcm_file, apns_file):
        path.chmod(0o600)

    return {
        "FCM_URL": fcm_url,
        "FCM_CREDENTIALS_FILE": str(fcm_file),
        "APNS_HOST": apns_host,
        "APNS_PORT": str(apns_port),
        "APNS_CA_FILE": str(apns_ca_file),
        "APNS_KEY_FILE": str(apns_file),
        "APNS_KEY_ID": DEV_KEY_ID,
        "APNS_TEAM_ID": DEV_TEAM_ID,
        "APNS_TOPIC": DEV_TOPIC,
    }


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
