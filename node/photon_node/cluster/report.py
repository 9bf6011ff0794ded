"""What the node reports about itself: GET /cluster/status, and the gauges refreshed at each
Prometheus scrape."""

from __future__ import annotations

import time

from photon_common import contract


class Reporting:
    """Mixed into Node: reads its settings, driver, engine, gossip and checks."""

    def status(self) -> dict:
        status = {
            "id": self.id,
            "version": contract.VERSION,
            "protocol_version": self.settings.protocol_version,
            "min_protocol_version": self.settings.min_protocol_version,
            "effective_protocol_version": self.effective_protocol(),
            "role": self.settings.role,
            "state": self.state,
            "draining": self.draining,
            "ready": all(check.ok for check in self.ready_checks()),
            "revision": self.engine.revision if self.engine else None,
            "uptime_seconds": round(time.time() - self.started_at, 3),
            "data_format": contract.DATA_FORMAT_VERSION,
            "client_addr": self.settings.client_addr,
            "peer_addr": self.settings.peer_addr,
            "leader": self.leader_id(),
            "raft": self.driver.status() if self.driver and self.driver.core else None,
            "problems": sorted(self.incompatible.values()),
            "members": {},
        }
        if self.gossip is not None:
            status["members"] = {
                node_id: {
                    "state": m.state.value,
                    "roles": list(m.meta.roles),
                    "version": m.meta.version,
                    "protocol": m.meta.protocol,
                    "draining": m.meta.draining,
                    "storage_ok": m.meta.storage_ok,
                    "client_addr": m.meta.client_addr,
                    "peer_addr": m.meta.peer_addr,
                }
                for node_id, m in sorted(self.gossip.members().items())
            }
        return status

    def _refresh_gauges(self) -> None:  # runs in a worker thread at scrape time
        engine = self.engine
        if engine is not None:
            try:
                self.metrics.storage_size.set(engine.size_bytes())
            except OSError:
                self.metrics.storage_errors.labels("read").inc()
            self.metrics.revision.set(engine.revision)
        self.metrics.ready.set(int(all(check.ok for check in self.ready_checks())))
