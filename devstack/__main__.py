"""``python -m devstack``: the whole system on one machine, embedded defaults.

Starts the embedded Valkey server, a fresh anvil chain with our EPNS
contracts, the local stand-ins for FCM, APNs and an IPFS gateway, then the
API, a worker, the poller and rq-dashboard. Prints where each listens and
stops them all on Ctrl-C, ``kill`` or a closed terminal. The chain starts
empty every time, so the local SQLite database is started afresh with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping

from app.config import VAR, load_settings
from devstack.services import ServiceError, start_anvil, start_valkey, wait_http
from devstack.supervisor import Supervisor

PY = sys.executable


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--api-port", type=int, default=5000)
    parser.add_argument("--anvil-port", type=int, default=8545)
    parser.add_argument("--fcm-port", type=int, default=9101)
    parser.add_argument("--apns-port", type=int, default=9102)
    parser.add_argument("--apns-control-port", type=int, default=9103)
    parser.add_argument("--ipfs-port", type=int, default=9104)
    parser.add_argument("--dashboard-port", type=int, default=9181)
    parser.add_argument("--workers", type=int, default=1)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    ports = {k: v for k, v in vars(args).items() if k.endswith("_port")}
    busy = [f"{k.removesuffix('_port')} ({p})" for k, p in ports.items() if _taken(p)]
    if busy:
        print(
            f"devstack: ports already in use: {', '.join(busy)}; stop what holds "
            "them or pass other ports (see --help)",
            file=sys.stderr,
        )
        return 2

    _stop_on_kill_and_hangup()
    sup = Supervisor(quiet={"api", "dashboard"})
    try:
        return run(sup, args)
    finally:
        # Whatever happened (Ctrl-C, kill or a closed terminal, during
        # start-up or after), nothing started here may outlive the launcher.
        _ignore_stop_signals()
        sup.stop_all()


def _stop_on_kill_and_hangup() -> None:
    """Make ``kill`` and a closed terminal stop the stack as Ctrl-C does.

    The children run in sessions of their own, so only the launcher hears
    these signals; left to their defaults it would die at once and leave
    them all holding their ports. A signal ignored on purpose (``nohup make
    up``) stays ignored.
    """
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _ignore_stop_signals() -> None:
    """A second signal (a shell and then the kernel both send SIGHUP when a
    terminal closes) must not cut the stopping short."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def run(sup: Supervisor, args: argparse.Namespace) -> int:
    try:
        urls = start_stack(sup, args)
    except (ServiceError, OSError, RuntimeError) as exc:
        _say(f"devstack: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("devstack: interrupted during start-up, stopping…")
        return 130

    print_banner(urls)
    ended = sup.watch()
    if ended:
        _say(f"devstack: {ended} exited; see var/log/{ended}.log. Stopping.")
    else:
        _say("devstack: stopping…")
    return 1 if ended else 0


def _say(text: str) -> None:
    """Tell the terminal, if there still is one (a closed pipe is not fatal)."""
    with contextlib.suppress(BrokenPipeError, OSError):
        print(text, file=sys.stderr, flush=True)


def start_stack(sup: Supervisor, args: argparse.Namespace) -> dict[str, str]:
    from devstack.chain import deploy_epns, write_chains_file
    from devstack.push_credentials import make_dev_credentials

    (VAR / "run").mkdir(parents=True, exist_ok=True)
    env = {"APP_ENV": "development", **sign_in_at(args.api_port, load_settings().raw)}
    urls: dict[str, str] = {}

    if not os.environ.get("REDIS_URL"):
        sock = VAR / "run" / "valkey.sock"
        sup.adopt("valkey", start_valkey(sock, log_path=sup.log_path("valkey")))
        urls["redis"] = f"unix://{sock}"
    if not os.environ.get("DATABASE_URL"):
        for path in VAR.glob("epns.sqlite3*"):
            path.unlink()
    _run_step([PY, "-m", "migrations"], env)

    anvil, rpc_url = start_anvil(args.anvil_port, log_path=sup.log_path("anvil"))
    sup.adopt("anvil", anvil)
    deployment = deploy_epns(rpc_url)
    write_chains_file(VAR / "chains.json", deployment, rpc_url)
    urls["anvil"] = rpc_url
    urls["contracts"] = f"Core {deployment.core}, Comm {deployment.comm}"

    urls.update(start_fakes(sup, args))
    env.update(
        make_dev_credentials(
            VAR / "credentials",
            urls["fcm"],
            "127.0.0.1",
            args.apns_port,
            str(VAR / "fakes" / "apns" / "ca.pem"),
        )
    )
    env["IPFS_GATEWAYS"] = urls["ipfs"]
    _save_env(env)

    start_servers(sup, args, env)
    urls["api"] = f"http://localhost:{args.api_port}"
    urls["docs"] = f"{urls['api']}/docs"
    urls["dashboard"] = f"http://127.0.0.1:{args.dashboard_port}"
    wait_http(f"{urls['api']}/healthz", "api")
    (VAR / "devstack.json").write_text(json.dumps(urls, indent=2))
    return urls


def sign_in_at(api_port: int, configured: Mapping[str, str]) -> dict[str, str]:
    """The sign-in domain and origin of the API on ``api_port``.

    The nonce answer tells wallets which domain and URI to sign for, and the
    defaults name port 5000 whatever port the API was given. A value set in
    the environment or ``.env`` (``configured``) is the user's and is kept.
    """
    ours = {
        "SIWE_DOMAIN": f"localhost:{api_port}",
        "SIWE_ALLOWED_ORIGINS": f"http://localhost:{api_port}",
    }
    return {key: value for key, value in ours.items() if not configured.get(key)}


def start_fakes(sup: Supervisor, args: argparse.Namespace) -> dict[str, str]:
    """The local FCM, APNs and IPFS servers standing in for the real ones."""
    apns_dir = str(VAR / "fakes" / "apns")
    sup.spawn("fcm", _module("tests.fakes.fcm", "--port", args.fcm_port))
    sup.spawn(
        "apns",
        _module(
            "tests.fakes.apns",
            "--port",
            args.apns_port,
            "--control-port",
            args.apns_control_port,
            "--cert-dir",
            apns_dir,
        ),
    )
    sup.spawn("ipfs", _module("tests.fakes.ipfs", "--port", args.ipfs_port))

    urls = {
        "fcm": f"http://127.0.0.1:{args.fcm_port}",
        "apns": f"https://127.0.0.1:{args.apns_port}",
        "apns_control": f"http://127.0.0.1:{args.apns_control_port}",
        "ipfs": f"http://127.0.0.1:{args.ipfs_port}",
    }
    for name in ("fcm", "apns_control", "ipfs"):
        wait_http(f"{urls[name]}/_fake/received", name)
    _wait_port(args.apns_port, "apns")
    return urls


def start_servers(
    sup: Supervisor, args: argparse.Namespace, env: dict[str, str]
) -> None:
    """The API, the workers, the poller and the dashboard."""
    sup.spawn(
        "api",
        _module(
            "gunicorn",
            "--no-control-socket",
            "--workers",
            2,
            "--threads",
            4,
            "--bind",
            f"127.0.0.1:{args.api_port}",
            "wsgi:app",
        ),
        env,
    )
    for n in range(args.workers):
        sup.spawn(f"worker{n + 1}", [PY, "rq_worker.py"], env)
    sup.spawn("poller", _module("poller", "--follow", "--interval", 1), env)
    sup.spawn(
        "dashboard",
        _module("app.dashboard", "--port", args.dashboard_port, "--dev-no-auth"),
        env,
    )


def _module(name: str, *args: object) -> list[str]:
    return [PY, "-m", name, *map(str, args)]


def print_banner(urls: dict[str, str]) -> None:
    width = max(len(k) for k in urls)
    print("\nThe EPNS push server is running on this machine:\n")
    for name, url in urls.items():
        print(f"  {name:<{width}}  {url}")
    print(
        "\nIn another terminal, `make demo` sends notifications through it. "
        "Logs: var/log/. Ctrl-C stops everything.\n",
        flush=True,
    )


def _save_env(env: dict[str, str]) -> None:
    """Let other commands (the demo, flask CLI) reach the same stand-ins."""
    lines = [f"{k}={v}" for k, v in sorted(env.items())]
    (VAR / "devstack.env").write_text("\n".join(lines) + "\n")


def _run_step(args: list[str], env: dict[str, str]) -> None:
    import subprocess

    done = subprocess.run(
        args, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[1:])} failed:\n{done.stderr[-2000:]}")


def _taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(port: int, name: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not _taken(port):
        if time.monotonic() > deadline:
            raise ServiceError(f"{name} did not start on port {port}")
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
