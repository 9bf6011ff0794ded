"""Typed errors raised below the API layer; the API maps each to one HTTP status in one place."""

from __future__ import annotations

from typing import Any


class PhotonError(Exception):
    """Base of every error a request can end with. `status` is the HTTP status it maps to."""

    status = 500
    code = "internal"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidRequest(PhotonError):
    status = 400
    code = "invalid_request"


class Forbidden(PhotonError):
    status = 403
    code = "forbidden"


class NotFound(PhotonError):
    status = 404
    code = "not_found"


class Conflict(PhotonError):
    status = 409
    code = "conflict"


class PreconditionFailed(PhotonError):
    status = 412
    code = "precondition_failed"


class TooLarge(PhotonError):
    status = 413
    code = "too_large"


class Unavailable(PhotonError):
    """The node cannot serve this now (starting, stopping, storage failed); retry elsewhere."""

    status = 503
    code = "unavailable"


class StorageCorrupted(PhotonError):
    """Stored bytes fail their checksum or RocksDB reports corruption: never serve them."""

    status = 500
    code = "storage_corrupted"


class DataDirError(Exception):
    """The data directory cannot be opened by this node (incompatible, foreign or damaged)."""
