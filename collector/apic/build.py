"""The build: a full read of the APIC into the tracker (stage: collector/apic, run by the poller
after subscribing, before streaming).

1. configuration classes (fabric-wide, paged) into :class:`FabricTables`, then vPC pairs;
2. the epm classes, *node-scoped* (``/api/node/class/topology/pod-P/node-N/<cls>.json``), with
   ``concurrency`` queries in flight and up to ``prefetch`` raw pages waiting: the APIC works on
   the next pages while we decode and parse this one, so the build takes the longer of the two
   times, not their sum. Bounded both ways: the APIC never sees more than ``concurrency``
   requests from us (nginx throttling answers 503 above its limits; the client backs off), and
   memory holds at most ``prefetch`` undecoded pages.

A (node, class) whose ``totalCount`` changed while paging is read again (objects shift between
pages); re-reading is idempotent because snapshot records only set state. Objects of registered
classes (other modules) are read fabric-wide and handed to their handler.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from collector.apic import pagescan
from collector.apic.client import ApicClient, ApicError
from collector.apic.models import EPM_CLASSES, FabricTables
from collector.apic.tracker import SNAPSHOT_NAMES, SNAPSHOT_REPEATING, Tracker

log = logging.getLogger(__name__)

_TOTAL = re.compile(rb'"totalCount"\s*:\s*"?(\d+)')
_EMPTY = re.compile(rb'"imdata"\s*:\s*\[\s*\]')


@dataclass
class BuildStats:
    seconds: float = 0.0
    objects: int = 0
    pages: int = 0
    rereads: int = 0
    wait_s: float = 0.0  # time the parser waited for the APIC (no page ready)
    parse_s: float = 0.0  # time spent decoding + parsing + tracking


@dataclass
class _Page:
    key: tuple[str, str]  # (scope, class)
    page: int
    total: int
    body: bytes
    last: bool


class Builder:
    def __init__(
        self,
        client: ApicClient,
        tables: FabricTables,
        tracker: Tracker,
        config_classes: tuple[str, ...],
        now: Callable[[], float],
        emit: Callable[[], None],
        concurrency: int = 4,
        prefetch: int = 8,
        max_reread: int = 2,
    ) -> None:
        self.client = client
        self.tables = tables
        self.tracker = tracker
        self.config_classes = config_classes
        self.now = now
        self.emit = emit  # drain the tracker's outputs (a resync reports what changed)
        self.concurrency = max(1, concurrency)
        self.prefetch = max(1, prefetch)
        self.max_reread = max_reread
        self.stats = BuildStats()

    async def run(
        self,
        initial: bool,
        extra: dict[str, Callable[[dict[str, Any], float, bool], None]] | None = None,
        filters: dict[str, str] | None = None,
    ) -> BuildStats:
        self.stats = st = BuildStats()
        t0 = time.monotonic()
        gc_was = gc.isenabled()
        # Millions of long-lived objects (and ~N^2 tunnels at 400 leafs, whose tuples set off
        # collections during the configuration read): no full passes over them mid-build.
        # Young cycles (httpx responses) are collected every 16 pages (_pipeline).
        gc.disable()
        try:
            await self._config()
            for cls, handler in (extra or {}).items():
                await self._read_class(cls, handler, (filters or {}).get(cls, ""))
            tr = self.tracker
            tr.begin_snapshot(initial=initial)
            await self._epm()
            tr.end_snapshot(self.now())
            self.emit()
        finally:
            gc.collect(1)  # young cycles (httpx responses) of the last pages
            gc.freeze()  # the build's objects live on: keep them out of every later full pass
            if gc_was:
                gc.enable()
        st.seconds = time.monotonic() - t0
        return st

    # ------------------------------------------------------------------ configuration
    async def _config(self) -> None:
        # The same pipeline as the epm classes: a large fabric has ~N^2 tunnelIf objects (160k at
        # 400 leafs), and reading them page after page made the APIC's rendering and our parsing
        # add up instead of overlap. FabricTables.add accepts objects in any class order.
        add = self.tables.add

        def consume(imdata: list[Any]) -> int:
            n = 0
            for mo in imdata:
                if isinstance(mo, dict):
                    for c, body in mo.items():
                        attrs = body.get("attributes") if isinstance(body, dict) else None
                        if isinstance(attrs, dict):
                            add(c, attrs)
                            n += 1
            return n

        await self._pipeline([("", cls) for cls in self.config_classes], consume, skip_400=True)
        try:
            async for page in self.client.class_pages(
                "fabricExplicitGEp", "rsp-subtree=full&rsp-subtree-class=fabricNodePEp"
            ):
                for _, attrs in page.objects:
                    children = attrs.pop("__children__", [])
                    self.tables.add_vpc(
                        {"fabricExplicitGEp": {"attributes": attrs, "children": children}}
                    )
        except ApicError as exc:
            if exc.status != 400:
                raise

    async def _read_class(
        self, cls: str, handler: Callable[[dict[str, Any], float, bool], None], params: str = ""
    ) -> None:
        try:
            async for page in self.client.class_pages(cls, params):
                now = self.now()
                for _, attrs in page.objects:
                    handler(attrs, now, True)
        except ApicError as exc:
            if exc.status != 400:
                raise
            log.info("class %s not available on this APIC: %s", cls, exc.text)

    # ------------------------------------------------------------------ endpoints
    async def _epm(self) -> None:
        leafs = self.tables.leafs()
        scopes = [f"topology/pod-{p}/node-{n}" for p, n in leafs] or [""]
        jobs = [(scope, cls) for scope in scopes for cls in EPM_CLASSES]
        tr, now, decode = self.tracker, self.now, self.client.decode_body

        def consume(body: bytes) -> int:
            try:
                recs = pagescan.records(body, SNAPSHOT_NAMES, SNAPSHOT_REPEATING)
            except ValueError:
                decode(200, "", body, "")  # raises ApicError with the decoder's words
                raise
            return tr.snapshot_records(recs, now(), body)

        await self._pipeline(jobs, consume, counted=True, raw=True)

    async def _pipeline(
        self,
        jobs: list[tuple[str, str]],
        consume: Callable[[Any], int],
        counted: bool = False,
        skip_400: bool = False,
        raw: bool = False,
    ) -> None:
        """Fetch ``jobs`` (scope, class) with ``concurrency`` queries in flight and hand each
        decoded page's ``imdata`` to ``consume`` (returns the objects it took), or with ``raw``
        the page's undecoded body. ``counted``: the pages go into the build's stats (the epm
        phase); ``skip_400``: a class the APIC does not know ends its job quietly
        (configuration classes)."""
        st = self.stats
        pages: asyncio.Queue[_Page | BaseException] = asyncio.Queue(self.prefetch)
        todo: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        for j in jobs:
            todo.put_nowait(j)
        pending = len(jobs)
        attempts: dict[tuple[str, str], int] = {}

        async def fetcher() -> None:
            while True:
                try:
                    key = todo.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    await self._fetch(key, pages)
                except ApicError as exc:
                    if not (skip_400 and exc.status == 400):
                        await pages.put(exc)
                        return
                    log.debug("class %s not available: %s", key[1], exc.text)
                    await pages.put(_Page(key, 0, 0, b'{"totalCount":"0","imdata":[]}', True))
                except BaseException as exc:  # noqa: BLE001 - handed to the parser to raise
                    await pages.put(exc)
                    return

        workers = [asyncio.create_task(fetcher()) for _ in range(self.concurrency)]
        totals: dict[tuple[str, str], set[int]] = {}
        try:
            while pending:
                t_wait = time.monotonic()
                item = await pages.get()
                t_parse = time.monotonic()
                if counted:
                    st.wait_s += t_parse - t_wait
                if isinstance(item, BaseException):
                    raise item
                if counted:
                    st.pages += 1
                totals.setdefault(item.key, set()).add(item.total)
                if raw:
                    n = consume(item.body)
                else:
                    data = self.client.decode_body(200, "", item.body, "")
                    imdata = data.get("imdata")
                    n = consume(imdata if isinstance(imdata, list) else [])
                    del data, imdata
                if counted:
                    st.objects += n
                del item.body
                self.emit()
                if st.pages % 16 == 0:
                    gc.collect(1)
                if item.last:
                    if len(totals.pop(item.key, ())) > 1 and attempts.get(item.key, 0) < (
                        self.max_reread
                    ):
                        attempts[item.key] = attempts.get(item.key, 0) + 1
                        st.rereads += 1
                        log.info("%s %s changed during paging; reading again", *item.key[::-1])
                        todo.put_nowait(item.key)
                        if all(w.done() for w in workers):
                            workers.append(asyncio.create_task(fetcher()))
                    else:
                        pending -= 1
                if counted:
                    st.parse_s += time.monotonic() - t_parse
                await asyncio.sleep(0)  # let the fetchers and the websocket reader run
        finally:
            for w in workers:
                w.cancel()
            for w in workers:
                try:
                    await w
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass

    async def _fetch(self, key: tuple[str, str], out: asyncio.Queue[_Page | BaseException]) -> None:
        scope, cls = key
        size = self.client.page_size
        path = f"/api/node/class/{scope}/{cls}.json" if scope else f"/api/class/{cls}.json"
        page, received, empty_retries = 0, 0, 0
        while True:
            q = f"order-by={cls}.dn&page-size={size}&page={page}"
            _, _, body, _ = await self.client.request_raw("GET", path, q)
            m = _TOTAL.search(body, 0, 200)
            total = int(m.group(1)) if m else -1
            empty = _EMPTY.search(body) is not None
            if empty and total > received and empty_retries < 3:
                empty_retries += 1  # a busy APIC answered an empty page: ask again
                await asyncio.sleep(min(1.0, self.client.retry_min_s))
                continue
            empty_retries = 0
            n = 0 if empty else min(size, max(0, total - received)) if total >= 0 else size
            received += n
            last = empty or total < 0 or received >= total or n < size
            await out.put(_Page(key, page, total, body, last))
            if last:
                return
            page += 1
