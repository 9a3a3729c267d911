"""Prometheus metrics of every process, defined once so names stay stable.

Poller, workers and API increment these; how they are exposed (``/metrics``
on the API, a port or the multiprocess directory for workers and poller) is
the business of the process that starts them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Poller. In multiprocess mode a gauge shows the value last set by any
# process, alive or not: a cron poller exits between passes and its head,
# checkpoint and lag must stay visible until the next pass replaces them.
_LAST = "mostrecent"
CHAIN_HEAD = Gauge(
    "epns_chain_head_block", "Newest block seen", ["chain"], multiprocess_mode=_LAST
)
CHAIN_CHECKPOINT = Gauge(
    "epns_chain_checkpoint_block",
    "Last block fully processed",
    ["chain"],
    multiprocess_mode=_LAST,
)
CHAIN_LAG = Gauge(
    "epns_chain_lag_blocks",
    "Safe head minus checkpoint",
    ["chain"],
    multiprocess_mode=_LAST,
)
RANGE_WIDTH = Gauge(
    "epns_poller_range_blocks",
    "Width of the last range",
    ["chain"],
    multiprocess_mode=_LAST,
)
RPC_ERRORS = Counter(
    "epns_rpc_errors_total", "RPC failures by class", ["chain", "kind"]
)
REORGS = Counter("epns_reorgs_total", "Reorganisations detected", ["chain"])
REORG_DEPTH = Histogram(
    "epns_reorg_depth_blocks",
    "Blocks rolled back per reorg",
    ["chain"],
    buckets=(1, 2, 3, 5, 8, 13, 21, 64, 128),
)
LOGS_PROCESSED = Counter("epns_logs_processed_total", "Logs applied", ["chain"])

# Dispatch
NOTIFICATIONS = Counter(
    "epns_notifications_total", "Notifications by final status", ["status"]
)
PUSHES = Counter("epns_pushes_total", "Push answers", ["platform", "outcome"])
TOKENS_REMOVED = Counter(
    "epns_tokens_removed_total", "Device tokens deleted", ["reason"]
)
JOB_DURATION = Histogram("epns_job_duration_seconds", "Job run time", ["job"])

# API
API_REQUESTS = Counter(
    "epns_api_requests_total", "API requests", ["route", "method", "status"]
)
