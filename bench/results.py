"""One machine-readable line per benchmark, for the combined table.

Each benchmark prints its own readable report and then one line
``BENCH-RESULT {json}``; ``python -m bench`` runs them all and reads those
lines back.
"""

from __future__ import annotations

import json

PREFIX = "BENCH-RESULT "


def record(bench: str, **figures: float | int | str) -> None:
    print(PREFIX + json.dumps({"bench": bench, **figures}), flush=True)


def parse(output: str) -> list[dict]:
    return [
        json.loads(line[len(PREFIX) :])
        for line in output.splitlines()
        if line.startswith(PREFIX)
    ]
