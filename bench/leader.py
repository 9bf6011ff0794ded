#!/usr/bin/env python3
"""Print the client URL of the leader among a cluster's endpoints, for the benchmark scripts.

    leader.py etcd|photon URL,URL,URL

etcd: the member whose `/v3/maintenance/status` names itself as the leader. PhotonDB: the node
whose `/cluster/status` reports the Raft role `leader`. Polls for up to --timeout seconds (an
election may still be settling) and exits 1 when no endpoint leads by then.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request

from photon_common import contract


def _post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=2) as answer:
        return json.load(answer)


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as answer:
        return json.load(answer)


def leads(target: str, endpoint: str) -> bool:
    if target == "etcd":
        status = _post_json(endpoint + "/v3/maintenance/status", {})
        return str(status.get("leader")) == str(status.get("header", {}).get("member_id"))
    return _get_json(endpoint + contract.CLUSTER_STATUS).get("raft", {}).get("role") == "leader"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=("etcd", "photon"))
    parser.add_argument("endpoints", help="comma-separated client URLs")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    while True:
        for endpoint in args.endpoints.split(","):
            try:
                if leads(args.target, endpoint):
                    print(endpoint)
                    return 0
            except (OSError, ValueError):
                pass  # not up yet, or between terms
        if time.monotonic() > deadline:
            print(f"no leader among {args.endpoints} after {args.timeout}s", file=sys.stderr)
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
