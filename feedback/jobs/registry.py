"""Job kinds: each registered kind names the function a worker calls to do the work."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

__all__ = ["Handler", "JobFailed", "Progress", "handler_for", "kinds", "register"]

#: ``progress(rows_done, rows_total)``, called a bounded number of times, last with done == total.
Progress = Callable[[int, int], None]
#: ``handler(params, out, progress) -> {"file_name": str, "mimetype": str, "rows": int, ...}``
Handler = Callable[[dict, BinaryIO, Progress], dict]

_HANDLERS: dict[str, Handler] = {}


class JobFailed(Exception):
    """Raised by a handler for a failure the user can act on: ``code`` picks the message the
    pages show (see ``store.ERROR_CODES``), ``detail`` goes to the log and the job row."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}")
        self.code, self.detail = code, detail


def register(kind: str) -> Callable[[Handler], Handler]:
    """Decorator: ``@register("export_scores")`` makes the function the handler of that kind.

    The handler writes its file to ``out`` (a binary temporary file), reports progress and
    returns a dict with at least ``file_name`` and ``mimetype``. Registering a kind twice
    replaces the earlier handler (a module reloaded in a test, say).
    """

    def decorator(handler: Handler) -> Handler:
        _HANDLERS[kind] = handler
        return handler

    return decorator


def handler_for(kind: str) -> Handler:
    """The handler of ``kind``; KeyError for a kind nobody registered."""
    return _HANDLERS[kind]


def kinds() -> tuple[str, ...]:
    """Every registered kind."""
    return tuple(_HANDLERS)
