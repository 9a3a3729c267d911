"""Gunicorn settings of the API: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Numbers come from the environment so one file serves every host. Metrics
run in prometheus_client's multiprocess mode: each worker writes its values
under PROMETHEUS_MULTIPROC_DIR and ``/metrics`` on any worker adds them up.
The variable is set here, before any worker imports prometheus_client.
"""

import multiprocessing
import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(_ROOT / "var" / "prometheus" / "api")
)

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, spread out so they do not restart together.
max_requests = 20000
max_requests_jitter = 2000
# Each worker builds the app, and so its database pool, after the fork.
preload_app = False
# gunicorn 27 otherwise creates ~/.gunicorn/gunicorn.ctl.
control_socket_disable = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
if os.environ.get("APP_ENV") == "production":
    # gunicorn's own lines as JSON too, through the app's formatter (and
    # its redaction), so one parser reads the whole stream.
    _json_stderr = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stderr",
    }
    logconfig_dict = {
        "root": {"level": "INFO", "handlers": ["console"]},
        "formatters": {"json": {"()": "app.logs.JsonFormatter"}},
        "handlers": {"console": _json_stderr, "error_console": _json_stderr},
        "loggers": {
            name: {"level": "INFO", "handlers": ["console"], "propagate": False}
            for name in ("gunicorn.error", "gunicorn.access")
        },
    }
# Set to the proxy's address when behind one, for the client address in logs.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Start each run with an empty metrics directory."""
    from app.metrics_server import multiprocess_dir, reset_multiprocess_dir

    reset_multiprocess_dir(multiprocess_dir())


def child_exit(server, worker):
    from app.metrics_server import forget_process

    forget_process(worker.pid)
