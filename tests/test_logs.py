"""Redaction of log lines, and one notification followed from block to device."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from rq import Queue, SimpleWorker
from rq.job import Job

from app.config import ROOT
from app.job_context import ContextJob
from app.logs import bind, configure_logging, notification_ids, redact, redact_url
from app.metrics import JOB_DURATION
from app.models import DeviceToken, Notification
from app.queue import NOTIFICATIONS, notification_job_id

WALLET = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
FCM_TOKEN = (
    "cT9xQ2mZr1s:APA91bHq8Lm3Zr7Xk2Vw9Pt4Yc6Nb1Jd5Fg0Hs8Qa3We7Ru2Ty"
    "6Ui9Op4As1Df5Gh8Jk2Lz7Xc3Vb6Nm0Qw4Er8Ty2Ui6Op9123abc"
)
APNS_TOKEN = "8f3a9c1e" * 8
TX_HASH = "0x" + "3c" * 32


@pytest.fixture
def captured():
    """Configure the real formatters onto a buffer; restore logging after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    fields = logging._srcfile, logging.logThreads
    buffer = io.StringIO()

    def use(production: bool) -> io.StringIO:
        configure_logging(production, "INFO", stream=buffer)
        return buffer

    yield use
    root.handlers[:], level = saved
    root.setLevel(level)
    logging._srcfile, logging.logThreads = fields


class _Keep(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.parametrize("production", [False, True])
def test_records_skip_the_caller_and_thread_no_format_prints(captured, production):
    buffer = captured(production)
    keep = _Keep()
    logging.getLogger().addHandler(keep)

    logging.getLogger("app.tokens").info("registered %s", "ios")

    (record,) = keep.records
    assert (record.lineno, record.threadName) == (0, None)
    assert record.process == os.getpid()
    assert "registered ios" in buffer.getvalue()


def test_redact_leaves_a_line_without_url_or_secret_alone():
    line = f"registered ios token …001707 for {WALLET} at 12:00:01"
    assert redact(line) == line


@pytest.mark.parametrize(
    "url, shown",
    [
        (
            "https://mainnet.infura.io/v3/0123456789abcdef",
            "https://mainnet.infura.io/…",
        ),
        ("wss://eth.g.alchemy.com/v2/KeyKey", "wss://eth.g.alchemy.com/…"),
        ("https://user:secret@rpc.example:8545", "https://rpc.example:8545"),
        ("https://rpc.example/?apikey=abc", "https://rpc.example/…"),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
    ],
)
def test_redact_url_keeps_only_scheme_host_and_port(url, shown):
    assert redact_url(url) == shown


def test_redact_shortens_tokens_and_keeps_chain_data():
    address = "eip155:1:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    text = (
        f"to {APNS_TOKEN} and {FCM_TOKEN} tx {TX_HASH} {address} test_one_notification"
    )

    safe = redact(text)

    assert APNS_TOKEN not in safe and "…" + APNS_TOKEN[-6:] in safe
    assert FCM_TOKEN not in safe and "…" + FCM_TOKEN[-6:] in safe
    assert TX_HASH in safe
    assert address in safe
    assert "test_one_notification" in safe


@pytest.mark.parametrize("production", [True, False])
def test_formatters_never_print_a_full_token(captured, production):
    buffer = captured(production)
    log = logging.getLogger("tests.redaction")

    with bind(token=APNS_TOKEN, rpc="https://mainnet.infura.io/v3/deadbeef00"):
        log.warning("sending to %s", FCM_TOKEN)
        try:
            raise ValueError(APNS_TOKEN)
        except ValueError:
            log.exception("failed")

    out = buffer.getvalue()
    assert FCM_TOKEN[-6:] in out
    for secret in (FCM_TOKEN, APNS_TOKEN, "deadbeef00"):
        assert secret not in out
    if production:
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert lines[0]["token"] == "…" + APNS_TOKEN[-6:]
        assert "ValueError" in lines[1]["exception"]


def test_one_notification_journey_carries_its_ids_and_no_full_token(
    db, redis, captured
):
    buffer = captured(True)
    DeviceToken.create(wallet=WALLET, token=FCM_TOKEN, platform="android")
    DeviceToken.create(wallet=WALLET, token=APNS_TOKEN, platform="ios")
    row = Notification.create(
        chain_id=31337,
        tx_hash=TX_HASH,
        log_index=4,
        block_number=77,
        block_hash="0x" + "77" * 32,
        channel=WALLET,
        recipient=WALLET,
        identity=b"3+QmExample",
    )
    job_id = notification_job_id(row.id)
    before = _job_count("deliver")

    # The hand-off as the poller makes it, then a worker as rq_worker starts it.
    with bind(**notification_ids(row)):
        logging.getLogger("tests.poller").info("notification stored")
        Queue(NOTIFICATIONS, connection=redis).enqueue(
            "tests.journey_job.deliver",
            row.id,
            job_id=job_id,
            meta={"notification_id": row.id},
        )
    worker = SimpleWorker([NOTIFICATIONS], connection=redis, job_class=ContextJob)
    assert worker.work(burst=True)

    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    journey = [line for line in lines if line.get("notification_id") == row.id]
    messages = [line["message"] for line in journey]
    assert "notification stored" in messages and "push delivered" in messages
    for line in journey:
        if line["logger"] == "tests.journey_job":
            assert line["job_id"] == job_id
            assert (line["chain"], line["tx_hash"], line["log_index"]) == (
                31337,
                TX_HASH,
                4,
            )
    suffixes = {line.get("token") for line in journey if "token" in line}
    assert suffixes == {"…" + FCM_TOKEN[-6:], "…" + APNS_TOKEN[-6:]}
    assert FCM_TOKEN not in buffer.getvalue()
    assert APNS_TOKEN not in buffer.getvalue()

    job = Job.fetch(job_id, connection=redis)
    assert job.meta["sent"] == 2 and job.meta["audience"] == "targeted"
    assert _job_count("deliver") == before + 1


def _job_count(name: str) -> float:
    for metric in JOB_DURATION.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels["job"] == name:
                return sample.value
    return 0.0


def test_api_entry_point_logs_json_lines_in_production(db, database_url, tmp_path):
    code = "import logging, wsgi; logging.getLogger('probe').info('hello %s', 1)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "APP_ENV": "production",
            "DATABASE_URL": database_url,
            "CHAINS_FILE": str(tmp_path / "none.json"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert (line["logger"], line["message"], line["level"]) == (
        "probe",
        "hello 1",
        "INFO",
    )
