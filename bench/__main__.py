"""``python -m bench``: every benchmark in one run, then one table.

Runs the API, poller, dispatch and end-to-end latency benchmarks one after
another on this machine and prints their figures beside the baseline each
measured in the same run. The API and poller benchmarks write to MariaDB
(databases ``bench_api``, ``bench_poller`` and ``bench_dispatch``, each
created if missing and emptied by its benchmark).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from app.config import ROOT
from bench.results import parse

MYSQL = "mysql://root@127.0.0.1:3306"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--mysql", default=MYSQL, help="MariaDB server URL")
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args(argv)

    quick = args.quick
    runs = [
        (
            "api",
            ["bench.api_bench", *(["--rounds", "1"] if quick else [])],
            {"BENCH_DATABASE_URL": f"{args.mysql}/bench_api"},
        ),
        (
            "poller",
            [
                "bench.poller_bench",
                "--database-url",
                f"{args.mysql}/bench_poller",
                *(["--events", "5000"] if quick else []),
            ],
            {},
        ),
        (
            "dispatch",
            [
                "bench.dispatch_bench",
                "--database-url",
                f"{args.mysql}/bench_dispatch",
                *(["--pushes", "5000", "--no-broadcast"] if quick else []),
            ],
            {},
        ),
        ("latency", ["bench.latency", *(["--samples", "5"] if quick else [])], {}),
    ]

    results: dict[str, dict] = {}
    for name, module_args, env in runs:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        output = _run(module_args, env)
        for result in parse(output):
            results[result["bench"]] = result
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)

    print_table(results)
    return 0 if len(results) == len(runs) else 1


def print_table(results: dict[str, dict]) -> None:
    rows = []
    api, poller = results.get("api"), results.get("poller")
    dispatch, latency = results.get("dispatch"), results.get("latency")
    if api:
        rows += [
            (
                "API registrations/s (MariaDB)",
                f"{api['ours']:.0f}",
                f"bare Flask {api['bare']:.0f}",
                f"{api['ratio']:.2f}",
                "≥ 0.70",
            ),
        ]
    if poller:
        rows += [
            (
                "poller backfill logs/s (MariaDB)",
                f"{poller['logs_per_s']:.0f}",
                "",
                "",
                "≥ 5000",
            ),
            (
                "poller pass / bare eth_getLogs",
                f"{poller['pass_s']:.2f} s",
                f"bare {poller['bare_s']:.2f} s",
                f"{poller['ratio']:.1f}×",
                "≤ 1.5×",
            ),
        ]
    if dispatch:
        rows += [
            (
                "pushes/s, one worker",
                f"{dispatch['ours']:.0f}",
                f"bare HTTP/2 {dispatch['bare']:.0f}",
                f"{dispatch['ratio']:.2f}",
                "≥ 3000, ≥ 0.50",
            ),
            ("worker peak RSS", f"{dispatch['rss_mb']:.0f} MB", "", "", "≤ 150 MB"),
        ]
        if "broadcast_s" in dispatch:
            rows.append(
                (
                    "broadcast 150k devices, 2 workers",
                    f"{dispatch['broadcast_s']:.1f} s",
                    "",
                    "",
                    "≤ 60 s",
                )
            )
    if latency:
        rows.append(
            (
                "event mined → push received",
                f"p50 {latency['p50_s']:.2f} s",
                f"p95 {latency['p95_s']:.2f} s",
                "",
                "p50 ≤ 1.5 s",
            )
        )

    header = ("measure", "ours", "baseline (same run)", "ratio", "goal")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(
            "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True))
        )


def _run(module_args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *module_args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        sys.stdout.write(done.stderr[-3000:])
    return done.stdout


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
