"""Process lifecycle: serve probes at once, open storage in the background, stop gracefully.

SIGTERM/SIGINT: readiness turns false, the listener closes, in-flight requests get up to
`shutdown_timeout` to finish, queued writes are committed, RocksDB is flushed and closed, and the
process exits 0. A data directory that cannot be opened ends the process with exit code 3 and a
message saying why.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from photon_node.api.app import make_app
from photon_node.api.fastkv import KvServer
from photon_node.api.inflight import InFlight
from photon_node.api.middleware import KvMetrics
from photon_node.cluster.node import Node
from photon_node.core.errors import DataDirError
from photon_node.core.metrics import NodeMetrics
from photon_node.core.settings import Settings

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_DATA_DIR = 3
EXIT_LISTEN = 4
# Long enough for a 1 KiB key percent-encoded as 3-byte UTF-8 plus query parameters.
MAX_LINE_BYTES = 32 * 1024


async def serve(settings: Settings) -> int:
    node = Node(settings, NodeMetrics())
    inflight = InFlight()
    app = make_app(node, inflight)
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=settings.shutdown_timeout,
        max_line_size=MAX_LINE_BYTES,
        max_field_size=MAX_LINE_BYTES,
    )
    await runner.setup()
    assert runner.server is not None
    # Single-key requests are served by fastkv; it hands any other connection to aiohttp.
    kv_server = KvServer(app, runner.server, inflight, KvMetrics(node.metrics))
    loop = asyncio.get_running_loop()
    try:
        listener = await loop.create_server(
            kv_server.protocol, settings.listen.host, settings.listen.port,
            reuse_address=True, backlog=1024,
        )  # fmt: skip
    except OSError as error:
        logger.error("cannot listen on %s: %s", settings.listen, error)
        await runner.cleanup()
        return EXIT_LISTEN
    logger.info("node %s serving on %s", settings.node_id, settings.listen)

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    starting = asyncio.create_task(node.start(), name="node-start")
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)

    code = EXIT_OK
    if starting.done() and starting.exception() is not None:
        error = starting.exception()
        if not isinstance(error, DataDirError):
            raise error
        logger.error("cannot open the data directory: %s", error)
        code = EXIT_DATA_DIR
    else:
        await stop.wait()
        logger.info("stop signal received; draining in-flight requests")
    stopping.cancel()
    await node.begin_shutdown()
    listener.close()  # refuse new connections
    if not await inflight.wait_idle(settings.shutdown_timeout):
        logger.warning("%d requests still in flight after %.1fs; closing them",
                       inflight.count, settings.shutdown_timeout)  # fmt: skip
    kv_server.close_connections()
    await runner.cleanup()  # close idle connections; cancel what is left
    if not starting.done():
        await starting  # opening storage cannot be interrupted safely; it is bounded by recovery
    await node.close()
    logger.info("node %s stopped", settings.node_id)
    return code
