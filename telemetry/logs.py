"""Structured logs: every `logging.getLogger(...)` line rendered by structlog, JSON or console.

Each line carries what `structlog.contextvars` holds (request_id, booking_id, workflow_id) and
the workflow and activity details Temporal's own loggers attach. Never bind personal data.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import TextIO
from uuid import UUID

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger
from temporalio import activity, workflow

from config import Settings

BOOKING_WORKFLOW_PREFIX = "booking-"
# What a line keeps of the `temporal_workflow` / `temporal_activity` extras.
_TEMPORAL_KEYS = (
    "workflow_id",
    "workflow_type",
    "run_id",
    "activity_type",
    "attempt",
    "update_name",
)
# Uvicorn installs handlers of its own; its lines go through ours instead.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Lines with full URLs (a calendar id can be an email address); the API logs its own requests.
_QUIET_LOGGERS = ("httpx", "httpcore", "uvicorn.access")


def booking_id_of(workflow_id: str) -> str | None:
    """The booking id in a booking's workflow id (`booking-<uuid>`); None for other workflows."""
    if not workflow_id.startswith(BOOKING_WORKFLOW_PREFIX):
        return None
    try:
        return str(UUID(workflow_id.removeprefix(BOOKING_WORKFLOW_PREFIX)))
    except ValueError:
        return None


def _temporal_context(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    for extra in ("temporal_workflow", "temporal_activity"):
        details = getattr(record, extra, None)
        if isinstance(details, Mapping):
            for key in _TEMPORAL_KEYS:
                if key in details:
                    event_dict.setdefault(key, details[key])
    workflow_id = event_dict.get("workflow_id")
    if isinstance(workflow_id, str) and "booking_id" not in event_dict:
        booking_id = booking_id_of(workflow_id)
        if booking_id is not None:
            event_dict["booking_id"] = booking_id
    return event_dict


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _temporal_context,
]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is written (pytest swaps it per test)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        pass


def log_handler(log_format: str) -> logging.Handler:
    """A handler rendering stdlib and structlog records alike, as JSON lines or for a terminal."""
    renderer: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if log_format == "json"
        else [structlog.dev.ConsoleRenderer()]
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    return handler


def configure_logging(settings: Settings) -> None:
    """Route every logger through one structlog handler on the root logger; safe to call again.

    Handlers that others put on the root logger (pytest's log capture) stay where they are."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(log_handler(settings.log_format or "json"))
    root.setLevel(settings.log_level)
    for name in _UVICORN_LOGGERS:
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # The same details arrive as fields (see _temporal_context), not appended to the message.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
