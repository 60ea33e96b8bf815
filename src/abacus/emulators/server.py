"""The emulator application (Anthropic + Cursor + GitHub fakes + control endpoints) and a threaded loopback server.

Control endpoints (no auth), all under `/_emulator`:
  POST   /faults    {"provider","endpoint","kind","count","after","retry_after","delay","field"} → 201 the fault
  GET    /faults    armed faults;  DELETE /faults → {"cleared": n}
  GET    /requests  ?provider=&endpoint=  log of provider requests served;  DELETE /requests clears it
  GET    /clock     {"now","today"};  POST /clock {"now": "2026-01-10T18:00:00Z" | null}
  POST   /reset     faults, log, clock, issued tokens and rate-limit usage back to the start
  GET    /truth/usage?start=&end=&tool=&org=   GET /truth/commits?start=&end=   (Decimal as string)
  GET    /truth/activity?start=&end=&tool=&org=   (docs/providers.md §8 rows per tool, organization, identity, date)
  GET    /health
Budget alert receivers under `/hooks` (`/hooks/slack`, `/hooks/generic`; emulators/hooks.py).
"""

from __future__ import annotations

import importlib
import json
import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from types import ModuleType
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, Request, Response, Router, delete, get, post
from litestar.datastructures import State

from abacus.emulators.dataset import EmulatorConfig, EmulatorDataset
from abacus.emulators.faults import EmulatorState, FaultSpecError, query_params
from abacus.emulators.hooks import create_hooks_router
from abacus.providers.registry import PROVIDERS


def _json(body: Any, status: int = 200) -> Response[bytes]:
    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, date | datetime):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    return Response(
        content=json.dumps(body, default=default).encode(), status_code=status, media_type="application/json"
    )


def _iso_z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _range(request: Request[Any, Any, Any]) -> tuple[date, date]:
    params = query_params(request)
    return date.fromisoformat(params["start"]), date.fromisoformat(params["end"])


def create_control_router(state: EmulatorState) -> Router:
    """`/_emulator`: fault switches, request log, clock, reset and ground truth."""

    async def body_of(request: Request[Any, Any, Any]) -> Any:
        raw = await request.body()
        return json.loads(raw) if raw else {}

    @post("/faults")
    async def add_fault(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            spec = await body_of(request)
            if not isinstance(spec, dict):
                raise FaultSpecError("body must be a JSON object")
            fault = state.add_fault_from_json(spec)
        except (ValueError, FaultSpecError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(fault.to_json(), 201)

    @get("/faults")
    async def list_faults() -> Response[bytes]:
        return _json(state.faults())

    @delete("/faults", status_code=200)
    async def clear_faults() -> Response[bytes]:
        return _json({"cleared": state.clear_faults()})

    @get("/requests")
    async def list_requests(request: Request[Any, Any, Any]) -> Response[bytes]:
        params = query_params(request)
        return _json(state.requests(params.get("provider"), params.get("endpoint")))

    @delete("/requests", status_code=200)
    async def clear_requests() -> Response[bytes]:
        state.clear_requests()
        return _json({"cleared": True})

    @get("/clock")
    async def get_clock() -> Response[bytes]:
        return _json({"now": _iso_z(state.now()), "today": state.dataset.last_day.isoformat()})

    @post("/clock")
    async def set_clock(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            body = await body_of(request)
            raw = body.get("now") if isinstance(body, dict) else None
            value = datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else None
        except (ValueError, AttributeError) as exc:
            return _json({"error": f"invalid clock: {exc}"}, 400)
        state.set_clock(value)
        return _json({"now": _iso_z(state.now()), "today": state.dataset.last_day.isoformat()})

    @post("/reset")
    async def reset() -> Response[bytes]:
        state.reset()
        return _json({"reset": True})

    @get("/truth/usage")
    async def truth_usage(request: Request[Any, Any, Any]) -> Response[bytes]:
        params = query_params(request)
        try:
            start, end = _range(request)
        except (KeyError, ValueError):
            return _json({"error": "start and end (YYYY-MM-DD) are required"}, 400)
        rows = state.dataset.truth_usage(
            start, end, tool=params.get("tool") or None, org_label=params.get("org") or None
        )
        return _json(rows)

    @get("/truth/activity")
    async def truth_activity(request: Request[Any, Any, Any]) -> Response[bytes]:
        params = query_params(request)
        try:
            start, end = _range(request)
        except (KeyError, ValueError):
            return _json({"error": "start and end (YYYY-MM-DD) are required"}, 400)
        rows = state.dataset.truth_activity(
            start, end, tool=params.get("tool") or None, org_label=params.get("org") or None
        )
        return _json(rows)

    @get("/truth/commits")
    async def truth_commits(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            start, end = _range(request)
        except (KeyError, ValueError):
            return _json({"error": "start and end (YYYY-MM-DD) are required"}, 400)
        return _json(state.dataset.truth_commits(start, end))

    @get("/health")
    async def health() -> Response[bytes]:
        return _json({"ok": True, "now": _iso_z(state.now())})

    return Router(
        path="/_emulator",
        route_handlers=[
            add_fault,
            list_faults,
            clear_faults,
            list_requests,
            clear_requests,
            get_clock,
            set_clock,
            reset,
            truth_usage,
            truth_activity,
            truth_commits,
            health,
        ],
    )


def provider_emulator(module: str) -> ModuleType:
    """A provider's emulator module (named by its registry entry); it must offer `create_router(state)`."""
    return importlib.import_module(module)


def create_emulator_app(config: EmulatorConfig, *, extra_routers: Sequence[Router] = ()) -> Litestar:
    """A Litestar app serving every registered provider's emulator (`/anthropic`, `/cursor`, `/github`),
    `/_emulator` and `extra_routers` (e.g. `/oidc`).

    The shared `EmulatorState` is `app.state.emulator` (see `emulator_state`).
    """
    state = EmulatorState(config)
    return Litestar(
        route_handlers=[
            *(provider_emulator(provider.emulator_module).create_router(state) for provider in PROVIDERS),
            create_control_router(state),
            create_hooks_router(),
            *extra_routers,
        ],
        state=State({"emulator": state}),
        openapi_config=None,
        logging_config=None,  # leave the host process's logging alone
    )


def build_emulator_app(*, seed: int = 7, users: int = 40, days: int = 90, **config: Any) -> Litestar:
    """The demo emulator app: providers + controls + the OIDC provider at `/oidc` listing the data set's people.

    Extra keyword arguments are `EmulatorConfig` fields.
    """
    from abacus.emulators.oidc import OIDCState, create_oidc_router

    settings = EmulatorConfig(seed=seed, users=users, days=days, **config)
    people = [(p.email, p.name) for p in EmulatorDataset(settings).people]
    return create_emulator_app(settings, extra_routers=[create_oidc_router(OIDCState(demo_users=people))])


def emulator_state(app: Litestar) -> EmulatorState:
    """The `EmulatorState` behind an app built by `create_emulator_app`."""
    state = app.state["emulator"]
    assert isinstance(state, EmulatorState)
    return state


class EmulatorServer:
    """Runs the emulator app with uvicorn in a background thread on loopback; a context manager.

    `port=0` picks a free port. `base_url` is `http://127.0.0.1:<port>`; `state` drives faults/clock in-process.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        extra_routers: Sequence[Router] = (),
    ) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.port = port
        self.app = create_emulator_app(self.config, extra_routers=extra_routers)
        self.state = emulator_state(self.app)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Start serving and return once `/_emulator/health` answers."""
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this. asyncio only sets it itself on sockets created with proto=IPPROTO_TCP,
        # so without it every response waits ~40 ms for the client's delayed ACK (Nagle).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="on", ws="none", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=f"abacus-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("emulator server thread exited during start-up")
            if self._server.started:
                try:
                    if httpx.get(f"{self.base_url}/_emulator/health", timeout=1.0).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"emulator server did not answer on {self.base_url} within {timeout} s")

    def stop(self) -> None:
        """Stop serving and wait for the thread to finish."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
