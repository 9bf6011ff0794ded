"""bench/report.py: medians over alternating rounds and each round's ratio."""

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import report  # noqa: E402


def _write(
    tmp_path: Path, target: str, concurrency: int, number: int | None, ops: float, p99: float
):
    name = f"{target}-c{concurrency}" + (f"-r{number}" if number else "") + ".json"
    phase = {"phase": "put", "consistency": None, "ops_per_s": ops, "p50_ms": p99 / 3,
             "p99_ms": p99, "errors": 0, "error_kinds": {}}  # fmt: skip
    body = {"target": target, "concurrency": concurrency, "endpoints": ["a", "b", "c"],
            "phases": [phase]}  # fmt: skip
    path = tmp_path / name
    path.write_text(json.dumps(body))
    return str(path)


def test_rounds_are_reduced_to_medians_and_listed_as_ratios(tmp_path):
    paths = [
        _write(tmp_path, "etcd", 8, 1, 1000, 10),
        _write(tmp_path, "photon", 8, 1, 1500, 8),
        _write(tmp_path, "etcd", 8, 2, 2000, 20),
        _write(tmp_path, "photon", 8, 2, 2400, 10),
        _write(tmp_path, "etcd", 8, 3, 1200, 12),
        _write(tmp_path, "photon", 8, 3, 1920, 6),
    ]
    table = report.load(paths)
    etcd, photon = table[8]["put"]["etcd"], table[8]["put"]["photon"]
    assert (etcd["ops_per_s"], photon["ops_per_s"]) == (1200, 1920)
    assert (etcd["p99_ms"], photon["p99_ms"]) == (12, 8)
    text = report.render(table)
    assert "   8 put        | 1.50 1.20 1.60 | median 1.50 | p99 0.80 0.50 0.50" in text
    assert "median over them" in text


def test_a_single_round_keeps_the_plain_table(tmp_path):
    paths = [
        _write(tmp_path, "etcd", 64, None, 4000, 30),
        _write(tmp_path, "photon", 64, None, 6000, 20),
    ]
    text = report.render(report.load(paths))
    assert "1.50" in text
    assert "Each round" not in text
