"""A local stand-in for the third-party monitoring service that the service's monitoring example posts to.

The reference plugin hard-codes ``http://127.0.0.1:5020/1/buckets``; this serves that API on loopback in a
thread of its own, recording what it receives, so the example runs as published.
"""
from __future__ import annotations

import asyncio
import threading
from contextlib import contextmanager
from typing import Iterator

from aiohttp import web


class BucketService:
    def __init__(self) -> None:
        self.buckets: list[str] = []
        self.objects: list[dict] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/1/buckets", self._create_bucket)
        app.router.add_post("/1/buckets/{bucket}/objects", self._add_object)
        return app

    async def _create_bucket(self, request: web.Request) -> web.Response:
        bucket = request.query["bucket"]
        if bucket in self.buckets:
            return web.json_response({"error": "exists"}, status=409)
        self.buckets.append(bucket)
        return web.json_response({"bucket": bucket}, status=201)

    async def _add_object(self, request: web.Request) -> web.Response:
        self.objects.append({"bucket": request.match_info["bucket"], **await request.json()})
        return web.json_response({"ok": True}, status=201)


@contextmanager
def bucket_service(port: int = 5020) -> Iterator[BucketService]:
    """Serve a ``BucketService`` on 127.0.0.1:``port`` until the block ends."""
    service = BucketService()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(service.app())
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.run_until_complete(runner.cleanup())
        loop.close()
