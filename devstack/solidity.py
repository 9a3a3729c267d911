"""Compile the contracts under ``contracts/`` with the npm ``solc`` package.

solcjs has no ``--evm-version`` flag, so we drive its standard-JSON
interface. Artifacts (ABI and bytecode) are written to ``contracts/build/``
and checked in, so running the server needs no compiler; ``python -m
devstack.solidity`` rebuilds them and tests check they are current.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.config import ROOT

CONTRACTS = ROOT / "contracts"
BUILD = CONTRACTS / "build"
EVM_VERSION = "paris"


class CompileError(RuntimeError):
    """solc reported errors; the message carries them."""


def compile_sources(sources: dict[str, str]) -> dict[str, dict]:
    """Compile Solidity sources; return {contract name: {abi, bytecode}}."""
    request = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": {
            "evmVersion": EVM_VERSION,
            "optimizer": {"enabled": True, "runs": 200},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
        },
    }
    solcjs = ROOT / "node_modules" / "solc" / "solc.js"
    if not solcjs.exists():
        raise CompileError("node_modules/solc missing: run `npm ci` first")
    done = subprocess.run(
        ["node", str(solcjs), "--standard-json"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    output = json.loads(done.stdout[done.stdout.index("{") :])

    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise CompileError("\n".join(e["formattedMessage"] for e in errors))

    return {
        name: {"abi": spec["abi"], "bytecode": "0x" + spec["evm"]["bytecode"]["object"]}
        for contracts in output["contracts"].values()
        for name, spec in contracts.items()
    }


def build_all() -> list[Path]:
    """Compile every ``contracts/*.sol`` into ``contracts/build/<Name>.json``."""
    sources = {p.name: p.read_text() for p in sorted(CONTRACTS.glob("*.sol"))}
    BUILD.mkdir(exist_ok=True)
    written = []
    for name, artifact in compile_sources(sources).items():
        path = BUILD / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written


def load_artifact(name: str) -> dict:
    """The checked-in ABI and bytecode of contract ``name``."""
    return json.loads((BUILD / f"{name}.json").read_text())


if __name__ == "__main__":
    for path in build_all():
        print(f"wrote {path.relative_to(ROOT)}")
    sys.exit(0)
