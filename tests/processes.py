"""Starting our own server processes for a test, and waiting for them."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import requests

from app.config import ROOT


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Run ``python <args>`` from the repository root with ``env`` added."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_http(proc: subprocess.Popen, url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}: {proc.stderr.read()}")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            # Refused while binding, or slow to answer while workers import.
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {timeout} s")


def end(proc: subprocess.Popen) -> None:
    """Stop a process this test started, by its own handle."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
