#!/usr/bin/env python3
"""Side-by-side table of loadgen.py --json results, with the ratios photon/etcd.

    python3 bench/report.py RESULT.json [RESULT.json ...]

Results are grouped by concurrency and phase; each target (etcd, photon) gets its columns. The
ratio columns are photon divided by etcd: ops/s above 1 means PhotonDB did more operations per
second; a latency ratio below 1 means PhotonDB answered faster. A `--target null` result fills the
`ceiling` column: what the load generator itself can drive at that concurrency.

With several rounds (files named `TARGET-cC-rN.json`, from `compare_etcd.sh --repeat`), the table
shows the median of each column over the rounds, and a second table each round's ratio.
"""

from __future__ import annotations

import json
import re
import statistics
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
    """{concurrency: {phase: {target: summary}}}, phases in first-seen order; a target measured
    in several rounds gets the median of each number and its `rounds` (round -> summary)."""
    rounds: dict[int, dict[str, dict[str, dict[int, dict]]]] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                report = json.load(handle)
        except (OSError, ValueError) as error:
            print(f"report: skipping {path}: {error}", file=sys.stderr)
            continue
        found = re.search(r"-r(\d+)\.json$", path)
        number = int(found.group(1)) if found else 1
        by_phase = rounds.setdefault(report["concurrency"], {})
        for phase in report["phases"]:
            nodes = len(report["endpoints"])
            by_target = by_phase.setdefault(_phase_name(phase), {})
            by_target.setdefault(report["target"], {})[number] = {**phase, "nodes": nodes}
    return {
        concurrency: {
            phase: {target: _median(runs) for target, runs in targets.items()}
            for phase, targets in by_phase.items()
        }
        for concurrency, by_phase in rounds.items()
    }


MEDIAN_KEYS = ("ops_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_op", "client_cpu_us_per_op")


def _median(runs: dict[int, dict]) -> dict:
    if len(runs) == 1:
        return next(iter(runs.values()))
    summary = {**runs[min(runs)], "rounds": dict(sorted(runs.items()))}
    for key in MEDIAN_KEYS:
        values = [run[key] for run in runs.values() if run.get(key) is not None]
        summary[key] = statistics.median(values) if values else None
    summary["errors"] = sum(run.get("errors", 0) for run in runs.values())
    kinds: dict[str, int] = {}
    for run in runs.values():
        for kind, count in (run.get("error_kinds") or {}).items():
            kinds[kind] = kinds.get(kind, 0) + count
    summary["error_kinds"] = kinds
    return summary


def _round_lines(table: dict[int, dict[str, dict[str, dict]]]) -> list[str]:
    """Each round's ratio photon/etcd (ops/s and p99), when there was more than one round."""
    lines = []
    for concurrency in sorted(table):
        for phase, targets in table[concurrency].items():
            base = targets.get(BASE, {}).get("rounds", {})
            cand = targets.get(CANDIDATE, {}).get("rounds", {})
            pairs = [(base[n], cand[n]) for n in sorted(base) if n in cand]
            if len(pairs) < 2:
                continue
            ops = [c["ops_per_s"] / b["ops_per_s"] for b, c in pairs if b.get("ops_per_s")]
            p99 = [c["p99_ms"] / b["p99_ms"] for b, c in pairs if b.get("p99_ms")]
            lines.append(
                f"{concurrency:>4} {phase:<10} | "
                + " ".join(f"{r:.2f}" for r in ops)
                + f" | median {statistics.median(ops):.2f} | p99 "
                + " ".join(f"{r:.2f}" for r in p99)
            )
    if not lines:
        return []
    return ["Each round's ratio photon/etcd (ops/s, then p99), in the order run", *lines]


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
    per_round = _round_lines(table)
    if per_round:
        lines += ["", *per_round]
    lines.append("ratio = photon / etcd: ops/s > 1 is photon faster; p50/p99 < 1 is photon faster")
    if per_round:
        lines.append("several rounds: every number in the first tables is the median over them")
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
