"""The Litestar application: configuration, plugins, guards and the route table in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException, ValidationException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.htmx import HTMXPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.auth.guards import IDLE_SECONDS, NotSignedIn, require_session
from abacus.auth.oidc import OIDCClient
from abacus.auth.sessions import RotatingSessionConfig
from abacus.db import create_engine, request_home, session_factory
from abacus.garbage_collection import collect_less_often
from abacus.logging_setup import configure_logging, get_logger
from abacus.queries import cache as page_cache
from abacus.settings import Settings
from abacus.web import templating
from abacus.web.errors import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, BadParameter, unavailable_service
from abacus.web.fallback import FirstByteGuard
from abacus.web.middleware import RequestMiddleware
from abacus.web.params import DEPENDENCIES as PARAM_DEPENDENCIES
from abacus.web.params import refuse_nul_input
from abacus.web.routes import ROUTE_HANDLERS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
log = get_logger("abacus.app")


def _lifespan(settings: Settings) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = settings.database
        engine = create_engine(
            db.url or "",
            pool_size=db.pool_size,
            max_overflow=db.pool_overflow,
            pool_timeout=db.pool_timeout_seconds,
            fanout_connections=db.fanout,
        )
        app.state.engine = engine
        app.state.sessionmaker = session_factory(engine)
        app.state.redis = Redis.from_url(settings.redis.url or "")
        page_cache.attach(engine, app.state.redis, settings.redis.page_cache_seconds)
        app.state.oidc = OIDCClient(settings)
        app.state.arq = None
        try:
            yield
        finally:
            await app.state.oidc.aclose()
            if app.state.arq is not None:
                await app.state.arq.aclose()
            page_cache.detach(engine)
            await app.state.redis.aclose()
            await engine.dispose()

    return lifespan


async def provide_db(request: Request[Any, Any, Any]) -> AsyncIterator[AsyncSession]:
    """The request's own session: the same connection its other reads borrow (`abacus.db.borrowed_session`)."""
    holder = request_home.get()
    if holder is not None:
        try:
            yield holder.open(request.app.state.sessionmaker).session
        finally:  # the handler is done: its connection goes back before a streamed body opens its own
            await holder.close()
        return
    async with request.app.state.sessionmaker() as session:
        yield session


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/")


def not_signed_in_handler(request: Request[Any, Any, Any], _: NotSignedIn) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if _wants_json(request):
        return Response({"error": "Unauthorized"}, status_code=401)
    if request.headers.get("hx-request") == "true":
        current = request.headers.get("hx-current-url", "")
        parts = urlsplit(current)
        page = (parts.path + (f"?{parts.query}" if parts.query else "")) if parts.path else target
        location = templating.sign_in_url(page)
        return Response("", status_code=401, headers={"HX-Redirect": location})
    return Redirect(templating.sign_in_url(target), status_code=303)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    detail = exc.detail if status < 500 else "Something went wrong on our side."
    if status == 404 and detail == "Not Found":  # the router's: no route has this path
        path = request.url.path if len(request.url.path) <= 120 else request.url.path[:120] + "…"
        detail = f"No route at {path}" if _wants_json(request) else f"There is no page at {path}."
    if status >= 500:
        log.error("unhandled error", path=request.url.path, error=repr(exc))
    if _wants_json(request):
        return Response({"error": detail}, status_code=status)
    return templating.error_page(request, status, detail)


def bad_parameter_handler(request: Request[Any, Any, Any], exc: BadParameter) -> Response[Any]:
    message = f"Invalid parameter '{exc.param}': {exc.message}"
    if _wants_json(request):
        return Response({"error": message, "parameter": exc.param}, status_code=400)
    return templating.error_page(request, 400, message)


def validation_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    params = [str(item.get("key")) for item in (exc.extra or []) if isinstance(item, dict) and item.get("key")]
    message = f"Invalid parameter '{', '.join(params)}'" if params else str(exc.detail)
    if _wants_json(request):
        return Response({"error": message, "parameter": params[0] if params else None}, status_code=400)
    return templating.error_page(request, 400, message)


def unavailable_response(request: Request[Any, Any, Any], service: str, exc: Exception) -> Response[Any]:
    """503 with Retry-After: a page (or JSON under /api) saying Abacus is temporarily unavailable, never a stack."""
    log.warning("backing service unavailable", service=service, path=request.url.path, error=repr(exc))
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if _wants_json(request):
        return Response({"error": UNAVAILABLE_MESSAGE}, status_code=503, headers=headers)
    page = templating.error_page(request, 503, UNAVAILABLE_MESSAGE)
    page.context["title"] = "Temporarily unavailable"
    page.headers.update(headers)
    return page


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if service := unavailable_service(exc):
        return unavailable_response(request, service, exc)
    log.exception("unhandled error", path=request.url.path, error=repr(exc))
    if _wants_json(request):
        return Response({"error": "Internal server error"}, status_code=500)
    return templating.error_page(request, 500, "Something went wrong on our side.")


def create_app(settings: Settings) -> Litestar:
    """Build the app; `settings.database.url` and `settings.redis.url` must already be resolved."""
    if not settings.database.url or not settings.redis.url:
        raise ValueError("create_app needs resolved DATABASE_URL and REDIS_URL")
    configure_logging(settings.env)
    collect_less_often()  # OTLP exports and CSV uploads are decoded here
    session_store = RedisStore.with_client(url=settings.redis.url, namespace="abacus:sessions")
    session_config = RotatingSessionConfig(
        store="sessions",
        key="abacus_session",
        max_age=IDLE_SECONDS,
        renew_on_access=True,
        httponly=True,
        secure=settings.is_https,
        samesite="lax",
        # routes that never use a session do not even read it: no Redis round trip per static file, health check
        # or webhook, and a health check answers even while Redis is down
        exclude=["^/static/", "^/healthz$", "^/webhooks/", "^/otlp/"],
    )
    csrf = CSRFConfig(
        secret=settings.secret_key,
        cookie_name="abacus_csrf",
        header_name="x-csrftoken",
        cookie_secure=settings.is_https,
        exclude=["/webhooks/github", "/otlp/v1/metrics"],
    )
    template_config = TemplateConfig(
        directory=PROJECT_ROOT / "templates",
        engine=JinjaTemplateEngine,
        engine_callback=templating.configure_environment,
    )
    static = create_static_files_router(
        path="/static",
        directories=[PROJECT_ROOT / "static"],
        opt={"public": True},
        include_in_schema=False,
        cache_control=None,
    )
    app = Litestar(
        route_handlers=[static, *ROUTE_HANDLERS],
        guards=[require_session],
        dependencies={"db": Provide(provide_db), **PARAM_DEPENDENCIES},
        before_request=refuse_nul_input,
        middleware=[session_config.middleware],
        stores={"sessions": session_store},
        csrf_config=csrf,
        template_config=template_config,
        plugins=[HTMXPlugin()],
        exception_handlers={
            NotSignedIn: not_signed_in_handler,
            BadParameter: bad_parameter_handler,
            ValidationException: validation_handler,
            NotFoundException: http_error_handler,
            PermissionDeniedException: http_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
        openapi_config=OpenAPIConfig(
            title="Abacus API",
            version="1",
            path="/api",
            render_plugins=[JsonRenderPlugin(path="/openapi.json")],
        ),
        lifespan=[_lifespan(settings)],
        request_max_body_size=30 * 1024 * 1024,
        debug=False,
        logging_config=None,
    )
    app.state.settings = settings
    # Outside Litestar's own exception handling, not as route middleware: the router's 404 and 405 and the CSRF
    # middleware's 403 never pass through a route's middleware stack, yet need the same headers and log line.
    # FirstByteGuard answers a streamed download that fails before its first byte (Litestar's handlers cannot).
    guarded = FirstByteGuard(app.asgi_handler)
    app.asgi_handler = RequestMiddleware(guarded, https=settings.is_https, issuer=settings.sign_in.issuer)
    return app


def create_app_from_env() -> Litestar:
    """ASGI factory for `uvicorn --factory` (abacus serve's worker processes): settings and servers resolved here,
    the same way `abacus serve` resolved them (a server it started is reused, not started again)."""
    from abacus.runtime import resolve_runtime_settings

    app = create_app(resolve_runtime_settings(web=True).settings)
    assert isinstance(app.template_engine, JinjaTemplateEngine)  # create_app configures Jinja
    templating.compile_all_templates(app.template_engine)
    return app
