"""What a worker process keeps between jobs: settings, IPFS cache, senders."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.config import DispatchConfig, Settings, load_settings
from app.jobs import runtime
from app.jobs.ipfs import IpfsFetcher
from app.jobs.runtime import Senders

log = logging.getLogger(__name__)


@dataclass
class WorkerState:
    settings: Settings
    config: DispatchConfig
    ipfs: IpfsFetcher
    senders: Senders


_state: WorkerState | None = None


def configure(settings: Settings) -> WorkerState:
    """Set the worker's settings, closing senders built for older ones."""
    global _state
    if _state is not None:
        runtime.run(_state.senders.close(), timeout=30)
    config = settings.dispatch()
    _state = WorkerState(
        settings=settings,
        config=config,
        ipfs=IpfsFetcher(
            config.ipfs_gateways, config.ipfs_timeout, config.ipfs_max_bytes
        ),
        senders=Senders(config),
    )
    return _state


def current() -> WorkerState:
    return _state if _state is not None else configure(load_settings())
