"""Run the emulator with uvicorn: in-process for tests (:class:`EmulatorServer`) or blocking (:func:`serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_app
from .data import ShopState, generate, load_dir


class _Server(uvicorn.Server):
    """uvicorn server that signals readiness through an asyncio event and leaves signals alone."""

    def __init__(self, config: uvicorn.Config, ready: asyncio.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # tests and embedding: no signal handlers
        yield


class EmulatorServer:
    """``async with EmulatorServer(state) as emu:`` → ``emu.url`` (shop root), ``emu.key``, ``emu.state``.

    Binds 127.0.0.1 on a free port (or ``port``), waits for uvicorn's startup without sleeping.
    """

    def __init__(self, state: ShopState | None = None, *, port: int = 0, host: str = "127.0.0.1",
                 log_level: str = "warning") -> None:
        self.state = state if state is not None else generate(50, seed=1)
        self.host = host
        self.port = port
        self.log_level = log_level
        self._sock: socket.socket | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[Any] | None = None
        self._app: Any = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def api_url(self) -> str:
        return self.url + "api/"

    @property
    def key(self) -> str:
        return self.state.key

    @property
    def app(self) -> Any:
        """The Starlette app (after start), e.g. for ``httpx.ASGITransport``."""
        return self._app

    async def start(self) -> EmulatorServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted sockets inherit it: without it a response written in two parts waits for the
        # client's delayed ACK (~40 ms per request)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self.port))
        sock.listen(256)
        sock.setblocking(False)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self.state.stop_event = asyncio.Event()  # type: ignore[attr-defined]
        self._app = create_app(self.state)
        config = uvicorn.Config(self._app, log_level=self.log_level, lifespan="off",
                                access_log=False, server_header=False, timeout_graceful_shutdown=2, timeout_keep_alive=30)
        ready = asyncio.Event()
        self._server = _Server(config, ready)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            exc = self._task.exception() if self._task.done() else None
            sock.close()
            raise RuntimeError(f"emulator failed to start: {exc!r}")
        return self

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        stop = getattr(self.state, "stop_event", None)
        if stop is not None:
            stop.set()  # release responses held by "timeout" faults
        self._server.should_exit = True
        try:
            await self._task
        finally:
            if self._sock is not None:
                self._sock.close()
            self._server = None
            self._task = None

    async def __aenter__(self) -> EmulatorServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def build_state(data: str | Path | None = None, generate_n: int | None = None, seed: int = 1,
                version: str = "1.6", key: str | None = None, *, round_type: int = 2,
                address_module_fields: tuple[str, ...] = (), shops: int = 1,
                languages: tuple[str, ...] | None = None) -> ShopState:
    """A loaded shop (``data``: its ``shop.json`` names any address module fields) or a generated one
    (``shops``: a multishop install; ``languages``: named languages, ``emulator.data.generate``)."""
    if data is not None:
        return load_dir(data, version, key=key)
    return generate(generate_n or 0, seed, version=version, key=key, round_type=round_type,
                    address_module_fields=address_module_fields, shops=shops,
                    languages=languages if languages else 2)


async def serve_async(state: ShopState, port: int = 0, *, log_level: str = "info") -> None:
    """Serve until cancelled, printing the URL and key on start."""
    async with EmulatorServer(state, port=port, log_level=log_level) as emu:
        print(f"PrestaShop emulator {state.version_str} at {emu.url}", flush=True)
        print(f"Webservice key: {emu.key}", flush=True)
        print(f"Data: {state.stats()}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()


def serve(port: int = 0, data: str | Path | ShopState | None = None, version: str = "1.6",
          key: str | None = None, *, generate_n: int | None = None, seed: int = 1) -> None:
    """Blocking: serve the emulator on 127.0.0.1:port, printing the URL and key on start."""
    state = data if isinstance(data, ShopState) else build_state(data, generate_n, seed, version, key)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_async(state, port))
    sys.stdout.flush()
