"""PhotonCluster: one daemon per object drives reconcile passes; spec changes wake it early."""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from photon_common import contract

from .. import metrics

RESOURCE = (contract.API_GROUP, contract.API_VERSION, "photonclusters")


def _wakeup(memo: kopf.Memo, namespace: str, name: str) -> asyncio.Event:
    return memo.wakeups.setdefault((namespace, name), asyncio.Event())


async def _sleep(wake: asyncio.Event, stopped: kopf.DaemonStopped, delay: float) -> None:
    """Until the delay passes, the object changes, or kopf stops the daemon."""

    async def stop() -> None:
        await stopped.wait()

    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop())]
    try:
        await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    wake.clear()


@kopf.daemon(*RESOURCE, cancellation_timeout=30.0)
async def drive(
    name: str, namespace: str, memo: kopf.Memo, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    wake = _wakeup(memo, namespace, name)
    while not stopped:
        delay = await memo.reconciler.reconcile(namespace, name)
        if delay is None:
            return
        await _sleep(wake, stopped, delay)


@kopf.on.update(*RESOURCE, field="spec")
def changed(name: str, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    metrics.HANDLER.labels("changed", "ok").inc()
    _wakeup(memo, namespace, name).set()


@kopf.on.delete(*RESOURCE, optional=True)
def deleted(name: str, namespace: str, memo: kopf.Memo, **_: Any) -> None:
    metrics.HANDLER.labels("deleted", "ok").inc()
    memo.wakeups.pop((namespace, name), None)  # owned objects go by garbage collection
