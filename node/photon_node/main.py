"""`photon-node` entry point: load settings, configure logging, run the server."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import yaml

from photon_common import contract, logs
from photon_node.core.settings import ConfigError, load
from photon_node.server import serve

EXIT_CONFIG = 2


def set_batch_scheduling() -> None:
    """SCHED_BATCH for this process (threads started later inherit it). A node that wakes for
    every packet preempts whatever runs, and on a busy machine those context switches cost
    more than the requests: measured on two cores with three nodes and a client, the same
    stale reads took 159 µs of node CPU each under SCHED_OTHER and 95 µs under SCHED_BATCH
    (bench/independent.sh). On an idle CPU it changes nothing. Needs no privilege."""
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return  # not Linux
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError as error:
        logging.getLogger(__name__).warning("could not switch to SCHED_BATCH: %s", error)


def main(argv: list[str] | None = None) -> int:
    try:
        settings, args = load(sys.argv[1:] if argv is None else argv, os.environ)
    except ConfigError as error:
        print(f"photon-node: invalid configuration: {error}", file=sys.stderr)
        return EXIT_CONFIG
    if getattr(args, "version", False):
        print(f"photon-node {contract.VERSION} (protocol {contract.PROTOCOL_VERSION})")
        return 0
    if getattr(args, "print_config", False):
        print(yaml.safe_dump(settings.as_dict(), sort_keys=False), end="")
        return 0
    logs.configure(settings.log_level, settings.log_format, settings.node_id)
    if settings.cpu_scheduling == "batch":
        set_batch_scheduling()
    # RocksDB and fsync calls run in worker threads; hand the GIL back and forth every 1 ms
    # rather than 5 so a thread's answer does not wait behind the event loop for long.
    sys.setswitchinterval(0.001)
    if settings.event_loop == "uvloop":
        import uvloop

        return uvloop.run(serve(settings))
    return asyncio.run(serve(settings))
