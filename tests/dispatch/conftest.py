"""Fixtures of the dispatch tests: the fakes, dev credentials, a configured worker."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import load_settings
from app.jobs import context
from devstack.push_credentials import make_dev_credentials
from tests.fakes.apns import FakeApns
from tests.fakes.fcm import FakeFcm
from tests.fakes.ipfs import FakeIpfs
from tests.fakes.server import FakeServer
from tests.fakes.tls import server_context, write_certificate


@dataclass
class Fakes:
    fcm: FakeFcm
    apns: FakeApns
    ipfs: FakeIpfs
    env: dict[str, str]

    def reset(self) -> None:
        for service in (self.fcm, self.apns, self.ipfs):
            service.reset()


@pytest.fixture(scope="session")
def fakes_session(tmp_path_factory: pytest.TempPathFactory):
    directory = Path(tmp_path_factory.mktemp("push"))
    fcm, apns, ipfs = FakeFcm(quiet=True), FakeApns(quiet=True), FakeIpfs(quiet=True)
    cert, key = write_certificate(directory / "apns-cert")
    servers = [
        FakeServer(fcm),
        FakeServer(apns, server_context(cert, key)),
        FakeServer(ipfs),
    ]
    fcm_port, apns_port, ipfs_port = (s.start_in_thread() for s in servers)
    env = make_dev_credentials(
        directory / "credentials",
        f"http://127.0.0.1:{fcm_port}",
        "127.0.0.1",
        apns_port,
        cert,
    )
    env["IPFS_GATEWAYS"] = f"http://127.0.0.1:{ipfs_port}"
    yield Fakes(fcm, apns, ipfs, env)
    for server in servers:
        server.stop()


@pytest.fixture
def fakes(fakes_session: Fakes) -> Fakes:
    fakes_session.reset()
    yield fakes_session
    fakes_session.reset()


@pytest.fixture
def worker(db, redis, settings, fakes: Fakes):
    """A configured dispatch worker state (senders, IPFS) on the fakes."""
    return configure_worker(settings, fakes)


_configured: dict = {}


def configure_worker(settings, fakes: Fakes, **overrides: str):
    raw = {
        **settings.raw,
        **fakes.env,
        "PUSH_RETRY_BASE": "0.02",
        "PUSH_RETRY_CAP": "0.2",
        "PUSH_SEND_TIMEOUT": "2",
        "IPFS_TIMEOUT": "2",
        **overrides,
    }
    raw.pop("CHAINS_FILE", None)
    key = tuple(sorted(raw.items()))
    if _configured.get("key") != key:
        _configured["key"] = key
        _configured["state"] = context.configure(load_settings(raw))
    return _configured["state"]
