"""Structured logs: JSON lines in production, readable key=value lines in dev/demo."""

from __future__ import annotations

import logging
import sys

import structlog

PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,  # request_id (web/middleware.py), job_id (worker/settings.py)
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def log_formatter(env: str = "production") -> logging.Formatter:
    """The formatter of every log line, ours and libraries': JSON in production, key=value otherwise."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if env == "production"
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def configure_logging(env: str = "production", level: str = "INFO") -> None:
    structlog.configure(
        processors=[*PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Not cached: a module's logger follows a later configure() (and structlog's capture_logs in tests); the
        # proxy costs microseconds per line.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(log_formatter(env))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "uvicorn.access", "arq.worker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def current_request_id() -> str | None:
    """The id of the HTTP request (or worker job) whose context this code runs in, bound by the request middleware
    (`request_id`) or the worker (`job_id`); None outside both (the CLI)."""
    bound = structlog.contextvars.get_contextvars()
    value = bound.get("request_id") or bound.get("job_id")
    return str(value) if value is not None else None
