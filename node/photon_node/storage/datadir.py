"""The data directory's identity file: format version and owning node, checked before opening.

Layout:  <data-dir>/FORMAT   JSON {"format": N, "node_id": ..., "created_by": version}
         <data-dir>/db/      RocksDB

A directory written by a newer, incompatible format, by another node, or holding a database with
no FORMAT file is refused with a DataDirError that says what to do; nothing is modified.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

from photon_common import contract
from photon_node.core.errors import DataDirError

logger = logging.getLogger(__name__)

FORMAT_FILE = "FORMAT"
DB_DIR = "db"


@dataclass(frozen=True)
class DataDir:
    path: str
    format_version: int
    node_id: str

    @property
    def db_path(self) -> str:
        return os.path.join(self.path, DB_DIR)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_format(path: str, node_id: str) -> None:
    body = json.dumps(
        {"format": contract.DATA_FORMAT_VERSION, "node_id": node_id, "created_by": contract.VERSION}
    ).encode()
    tmp = os.path.join(path, FORMAT_FILE + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(body + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, os.path.join(path, FORMAT_FILE))
    _fsync_dir(path)


def prepare(path: str, node_id: str) -> DataDir:
    """Create a new data directory or validate an existing one. Blocking: call off the loop."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise DataDirError(f"cannot create data directory {path}: {error}") from error
    format_path = os.path.join(path, FORMAT_FILE)
    db_path = os.path.join(path, DB_DIR)
    if not os.path.exists(format_path):
        if os.path.exists(db_path):
            raise DataDirError(
                f"{path} holds a database but no {FORMAT_FILE} file: it was not written by "
                "PhotonDB or it is damaged; refusing to open it"
            )
        _write_format(path, node_id)
        logger.info("initialised data directory %s (format %d)", path, contract.DATA_FORMAT_VERSION)
        return DataDir(path, contract.DATA_FORMAT_VERSION, node_id)
    try:
        with open(format_path, "rb") as handle:
            meta = json.loads(handle.read())
        version = meta["format"]
        owner = meta["node_id"]
        if not isinstance(version, int) or not isinstance(owner, str):
            raise TypeError("format must be an integer and node_id a string")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataDirError(
            f"{format_path} is damaged ({error}); refusing to open {path}"
        ) from error
    if version > contract.DATA_FORMAT_VERSION:
        raise DataDirError(
            f"{path} was written in data format {version} by PhotonDB "
            f"{meta.get('created_by', '?')}; this node ({contract.VERSION}) reads formats "
            f"{contract.MIN_DATA_FORMAT_VERSION}-{contract.DATA_FORMAT_VERSION}. "
            "Run a newer photon-node on it; downgrading the data is not supported"
        )
    if version < contract.MIN_DATA_FORMAT_VERSION:
        raise DataDirError(
            f"{path} uses data format {version}, older than the oldest this node reads "
            f"({contract.MIN_DATA_FORMAT_VERSION}); upgrade through an intermediate release"
        )
    if owner != node_id:
        raise DataDirError(
            f"{path} belongs to node {owner!r}, not {node_id!r}; a data directory "
            "is never shared or renamed between nodes"
        )
    return DataDir(path, version, owner)


def disk_usage(path: str) -> int:
    """Bytes used by the files under path (not following links). Blocking."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue  # compaction removed it meanwhile
    return total
