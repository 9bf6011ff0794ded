#!/usr/bin/env python3
"""Side-by-side table of loadgen.py --json results, with the ratios photon/etcd.

    python3 bench/report.py RESULT.json [RESULT.json ...]

Results are grouped by concurrency and phase; each target (etcd, photon) gets its columns. The
ratio columns are photon divided by etcd: ops/s above 1 means PhotonDB did more operations per
second; a latency ratio below 1 means PhotonDB answered faster. A `--target null` result fills the
`ceiling` column: what the load generator itself can drive at that concurrency.
"""

from __future__ import annotations

import json
import sys

BASE = "etcd"
CANDIDATE = "photon"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(top: float | None, bottom: float | None) -> str:
    if top is None or not bottom:
        return "-"
    return f"{top / bottom:.2f}"


def _phase_name(phase: dict) -> str:
    if phase["phase"] == "get" and phase.get("consistency") == "stale":
        return "get(stale)"
    return phase["phase"]


def load(paths: list[str]) -> dict[int, dict[str, dict[str, dict]]]:
    """{concurrency: {phase: {target: phase summary}}}, phases in first-seen order."""
    table: dict[int, dict[str, dict[str, dict]]] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                report = json.load(handle)
        except (OSError, ValueError) as error:
            print(f"report: skipping {path}: {error}", file=sys.stderr)
            continue
        by_phase = table.setdefault(report["concurrency"], {})
        for phase in report["phases"]:
            nodes = len(report["endpoints"])
            by_phase.setdefault(_phase_name(phase), {})[report["target"]] = {
                **phase,
                "nodes": nodes,
            }
    return table


def render(table: dict[int, dict[str, dict[str, dict]]]) -> str:
    lines = []
    head = (
        f"{'conc':>4} {'phase':<10} | {'etcd ops/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'err':>4} "
        f"| {'photon ops/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'err':>4} "
        f"| {'ratio ops/s':>11} {'p50':>5} {'p99':>5} | {'ceiling':>8}"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for concurrency in sorted(table):
        for phase, targets in table[concurrency].items():
            base = targets.get(BASE, {})
            cand = targets.get(CANDIDATE, {})
            lines.append(
                f"{concurrency:>4} {phase:<10} | {_num(base.get('ops_per_s'), 1):>10} "
                f"{_num(base.get('p50_ms')):>8} {_num(base.get('p99_ms')):>8} "
                f"{base.get('errors', '-'):>4} "
                f"| {_num(cand.get('ops_per_s'), 1):>12} {_num(cand.get('p50_ms')):>8} "
                f"{_num(cand.get('p99_ms')):>8} {cand.get('errors', '-'):>4} "
                f"| {_ratio(cand.get('ops_per_s'), base.get('ops_per_s')):>11} "
                f"{_ratio(cand.get('p50_ms'), base.get('p50_ms')):>5} "
                f"{_ratio(cand.get('p99_ms'), base.get('p99_ms')):>5} "
                f"| {_num(targets.get('null', {}).get('ops_per_s'), 0):>8}"
            )
    for concurrency in sorted(table):
        for phase, targets in table[concurrency].items():
            for target, summary in targets.items():
                if summary.get("error_kinds"):
                    kinds = ", ".join(f"{k}={v}" for k, v in sorted(summary["error_kinds"].items()))
                    lines.append(f"errors: {target} {phase} at concurrency {concurrency}: {kinds}")
    cpu = _cpu_lines(table)
    if cpu:
        lines += ["", *cpu]
    lines.append("ratio = photon / etcd: ops/s > 1 is photon faster; p50/p99 < 1 is photon faster")
    lines.append("ceiling = ops/s of the same client against a null server (--target null):")
    lines.append("          a target's ops/s near it means the client, not the server, limits")
    return "\n".join(lines)


def _cpu_lines(table: dict[int, dict[str, dict[str, dict]]]) -> list[str]:
    """CPU per request of all server processes together, and of the client, when measured."""
    lines = []
    for concurrency in sorted(table):
        for phase, targets in table[concurrency].items():
            base = targets.get(BASE, {})
            cand = targets.get(CANDIDATE, {})
            if (
                base.get("server_cpu_us_per_op") is None
                and cand.get("server_cpu_us_per_op") is None
            ):
                continue
            lines.append(
                f"{concurrency:>4} {phase:<10} | {_num(base.get('server_cpu_us_per_op'), 0):>10} "
                f"{_num(base.get('client_cpu_us_per_op'), 0):>8} "
                f"| {_num(cand.get('server_cpu_us_per_op'), 0):>12} "
                f"{_num(cand.get('client_cpu_us_per_op'), 0):>8}"
            )
    if not lines:
        return []
    head = (
        f"{'conc':>4} {'phase':<10} | {'etcd µs/op':>10} {'client':>8} "
        f"| {'photon µs/op':>12} {'client':>8}"
    )
    return [
        "CPU per request (user + system, from /proc): all server processes, and the client",
        head,
        "-" * len(head),
        *lines,
    ]


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    print(render(load(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
