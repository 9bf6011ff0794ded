"""Startup (settings, clients, metrics server), cleanup, and the liveness probe."""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf
from prometheus_client import start_http_server

from photon_common import contract

from .. import metrics
from ..k8s import config as k8s_config
from ..k8s.client import Api, session
from ..model.settings import Settings
from ..nodeapi import client as nodeapi
from ..reconcile.reconciler import Reconciler

PREFIX = f"operator.{contract.API_GROUP}"
FINALIZER = f"{contract.API_GROUP}/finalizer"


def configure(settings: kopf.OperatorSettings, ours: Settings) -> None:
    """kopf's bookkeeping under our own prefix, never in status; watches that cannot stall."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    settings.watching.server_timeout = ours.watch_server_timeout
    settings.watching.client_timeout = ours.watch_client_timeout
    settings.watching.connect_timeout = 30
    settings.posting.level = logging.WARNING  # we post our own events for every transition


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    ours = Settings.from_env(os.environ)
    configure(settings, ours)
    start_http_server(ours.metrics_port, registry=metrics.REGISTRY)
    http = session()
    api = Api(k8s_config.load(), http)
    send = nodeapi.proxied(api) if ours.node_access == "proxy" else None
    send = send or nodeapi.direct(http, ours.node_timeout_seconds)
    memo.session, memo.wakeups = http, {}
    memo.reconciler = Reconciler(api, nodeapi.NodeApi(send), ours)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    await memo.session.close()


@kopf.on.probe(id="lastReconcile")
def last_reconcile(memo: kopf.Memo, **_: Any) -> str:
    return memo.reconciler.healthy_since()
