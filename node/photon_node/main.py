"""`photon-node` entry point: load settings, configure logging, run the server."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys

import yaml

from photon_common import contract
from photon_node.core.settings import ConfigError, load
from photon_node.server import serve

EXIT_CONFIG = 2


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _configure_logging(level: str, fmt: str, node_id: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s [{node_id}] %(name)s: %(message)s")
        )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


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
    _configure_logging(settings.log_level, settings.log_format, settings.node_id)
    return asyncio.run(serve(settings))
