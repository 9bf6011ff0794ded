"""`photonctl`: put, get, delete, scan, status and drain against a PhotonDB endpoint.

The endpoint comes from --endpoint, else PHOTON_ENDPOINT, else http://127.0.0.1:7700.
Exit codes: 0 success, 1 the server refused (its JSON error is printed), 2 bad usage,
3 the endpoint could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from pathlib import Path

import aiohttp

from photon_client import dev
from photon_client.client import PhotonClient, PhotonError
from photon_common import contract


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="photonctl", description="PhotonDB command-line client.")
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("PHOTON_ENDPOINT", f"http://127.0.0.1:{contract.CLIENT_PORT}"),
        help="node or Service URL [PHOTON_ENDPOINT]",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    commands = parser.add_subparsers(dest="command", required=True)
    put = commands.add_parser("put", help="store a value (from the argument or '-' for stdin)")
    put.add_argument("key")
    put.add_argument("value")
    put.add_argument("--if-revision", type=int, help="compare-and-set on this revision")
    put.add_argument("--create-only", action="store_true", help="fail if the key exists")
    get = commands.add_parser("get", help="print a value")
    get.add_argument("key")
    get.add_argument("--stale", action="store_true", help="serve from the local replica")
    get.add_argument("--revision", action="store_true", help="print the revision too")
    delete = commands.add_parser("delete", help="delete a key")
    delete.add_argument("key")
    delete.add_argument("--if-revision", type=int)
    scan = commands.add_parser("scan", help="list keys in order as JSON lines")
    scan.add_argument("--prefix", default="")
    scan.add_argument("--start", default="")
    scan.add_argument("--limit", type=int, default=0, help="stop after this many (0: all)")
    commands.add_parser("status", help="print the node's /cluster/status")
    transfer = commands.add_parser("transfer-leadership", help="move leadership (on the leader)")
    transfer.add_argument("--to", help="target node id (default: the most caught-up voter)")
    dev = commands.add_parser("dev", help="a local cluster of real processes on loopback")
    dev_commands = dev.add_subparsers(dest="dev_command", required=True)
    dev_up = dev_commands.add_parser("up", help="start a local cluster")
    dev_up.add_argument("--nodes", type=int, default=3)
    dev_up.add_argument("--dir", default=".photon/dev", help="data, logs and secret")
    dev_up.add_argument("--base-port", type=int, default=7700)
    dev_up.add_argument("node_args", nargs="*", help="extra photon-node flags (after --)")
    dev_down = dev_commands.add_parser("down", help="stop the local cluster")
    dev_down.add_argument("--dir", default=".photon/dev")
    dev_down.add_argument("--purge", action="store_true", help="delete its data too")
    dev_status = dev_commands.add_parser("status", help="list the local cluster's nodes")
    dev_status.add_argument("--dir", default=".photon/dev")
    drain = commands.add_parser("drain", help="drain the node (--status, --cancel)")
    group = drain.add_mutually_exclusive_group()
    group.add_argument("--status", action="store_true")
    group.add_argument("--cancel", action="store_true")
    return parser


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


async def _scan(client: PhotonClient, args: argparse.Namespace) -> None:
    token, shown = None, 0
    while True:
        items, token = await client.scan_page(args.prefix, args.start, 1000, token)
        for item in items:
            if args.limit and shown >= args.limit:
                return
            value = base64.b64encode(item.value).decode()
            print(json.dumps({"key": item.key, "value": value, "revision": item.revision}))
            shown += 1
        if token is None:
            return


async def run(args: argparse.Namespace) -> int:
    async with PhotonClient(args.endpoint, timeout=args.timeout) as client:
        if args.command == "put":
            value = sys.stdin.buffer.read() if args.value == "-" else args.value.encode()
            revision = await client.put(
                args.key, value, if_revision=args.if_revision, create_only=args.create_only
            )
            _print_json({"key": args.key, "revision": revision})
        elif args.command == "get":
            entry = await client.get(args.key, stale=args.stale)
            if args.revision:
                print(entry.revision, file=sys.stderr)
            sys.stdout.buffer.write(entry.value)
            if sys.stdout.isatty():
                sys.stdout.write("\n")
        elif args.command == "delete":
            _print_json({"key": args.key, "revision": await client.delete(args.key)})
        elif args.command == "scan":
            await _scan(client, args)
        elif args.command == "status":
            _print_json(await client.status())
        elif args.command == "transfer-leadership":
            _print_json(await client.transfer_leadership(args.to))
        elif args.command == "drain":
            if args.status:
                _print_json(await client.drain_status())
            elif args.cancel:
                _print_json(await client.cancel_drain())
            else:
                _print_json(await client.drain())
    return 0


def _dev(args: argparse.Namespace) -> int:
    root = Path(args.dir).resolve()
    if args.dev_command == "up":
        if not 1 <= args.nodes <= 9:
            print("photonctl: --nodes must be 1 to 9", file=sys.stderr)
            return 2
        return dev.up(root, args.nodes, args.base_port, args.node_args)
    if args.dev_command == "down":
        return dev.down(root, args.purge)
    return dev.status(root)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "dev":
        return _dev(args)
    try:
        return asyncio.run(run(args))
    except PhotonError as error:
        print(f"photonctl: {error}", file=sys.stderr)
        return 1
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        print(f"photonctl: cannot reach {args.endpoint}: {error}", file=sys.stderr)
        return 3
