"""One reconcile pass for one PhotonCluster: observe -> plan -> act, with metrics and logs.

Returns the seconds until the next pass (short while an operation runs). Nothing but
cancellation escapes: an error is logged, counted and retried after a back-off.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from photon_common import contract

from .. import metrics
from ..k8s.client import Api, ApiError
from ..model.operation import iso
from ..model.settings import Settings
from ..nodeapi.client import NodeApi
from . import observe as observing
from .act import act, merge_patch
from .plan import plan

logger = logging.getLogger(__name__)
ERROR_BACKOFF = 10.0


@dataclass
class Reconciler:
    api: Api
    nodes: NodeApi
    settings: Settings
    clock: Callable[[], float] = time.time
    last_pass: dict[str, float] = field(default_factory=dict)

    async def reconcile(self, namespace: str, name: str) -> float | None:
        """One pass; the delay before the next one, or None when the object is gone."""
        started = time.monotonic()
        try:
            body = await self.api.get(contract.KIND_CLUSTER, namespace, name)
            if body is None or body["metadata"].get("deletionTimestamp"):
                return None
            delay = await self._pass(body)
        except ApiError as error:
            metrics.RECONCILE.labels("error").inc()
            logger.warning("reconcile %s/%s: API error %s", namespace, name, error)
            return ERROR_BACKOFF
        except Exception:
            metrics.RECONCILE.labels("error").inc()
            logger.exception("reconcile %s/%s failed", namespace, name)
            return ERROR_BACKOFF
        finally:
            metrics.RECONCILE_SECONDS.observe(time.monotonic() - started)
        self.last_pass[f"{namespace}/{name}"] = self.clock()
        return delay

    async def _pass(self, body: dict) -> float:
        meta = body["metadata"]
        ns, name = meta["namespace"], meta["name"]
        try:
            observed = await observing.observe(
                self.api,
                self.nodes,
                body,
                default_repository=self.settings.default_repository,
                now=self.clock(),
            )
        except (ValueError, KeyError) as error:  # the CRD should have refused it
            await self._invalid(body, str(error))
            metrics.RECONCILE.labels("invalid").inc()
            return self.settings.resync_seconds
        result = plan(
            observed,
            secret_value=secrets.token_urlsafe(32),
            resync=self.settings.resync_seconds,
            active=self.settings.active_seconds,
        )
        await act(self.api, self.nodes, observed, result)
        if result.message != observed.status.get("message"):
            logger.info("%s/%s: %s", ns, name, result.message)
        self._gauges(ns, name, result.status)
        metrics.RECONCILE.labels("ok").inc()
        return result.requeue

    async def _invalid(self, body: dict, message: str) -> None:
        meta = body["metadata"]
        status = dict(body.get("status") or {})
        new = {**status, "phase": "Invalid", "message": message}
        new["observedGeneration"] = meta.get("generation", 0)
        patch = merge_patch(status, new)
        if patch:
            logger.warning("%s/%s invalid: %s", meta["namespace"], meta["name"], message)
            await self.api.patch_status(
                contract.KIND_CLUSTER, meta["namespace"], meta["name"], {"status": patch}
            )

    def _gauges(self, ns: str, name: str, status: dict) -> None:
        operation = status.get("operation") or {}
        for kind in ("Rollout", "ScaleIn", "ScaleOut"):
            metrics.OPERATION.labels(ns, name, kind).set(1 if operation.get("type") == kind else 0)
        if operation.get("type") == "Rollout":
            role = operation["roles"][0]
            metrics.ROLLOUT_PARTITION.labels(ns, name, role).set(operation["partition"])
        if operation.get("type") == "ScaleIn":
            left = operation["source"] - len(operation.get("removed", ())) - operation["target"]
            metrics.SCALE_IN_REMAINING.labels(ns, name, operation["role"]).set(left)

    def healthy_since(self) -> str:
        return iso(max(self.last_pass.values(), default=self.clock()))
