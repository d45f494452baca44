"""What the log records written now are part of (a request, a Celery task, a sync run): a context
variable, so that each thread and task has its own. Imports nothing of the product or of Django: the
API clients (connectors.ahead's reading thread) carry it over. leadsync_project.logs formats it."""

import contextvars
from contextlib import contextmanager

_context: contextvars.ContextVar[dict] = contextvars.ContextVar("leadsync_log_context", default={})


def current_context() -> dict:
    """What the records logged now are part of (a copy)."""
    return dict(_context.get())


@contextmanager
def log_context(**values):
    """Records logged inside the block carry `values` (on top of the context already set); the
    previous context is back when the block ends, however it ends."""
    token = _context.set({**_context.get(), **{k: v for k, v in values.items() if v not in (None, "")}})
    try:
        yield
    finally:
        _context.reset(token)


def context_push(**values):
    """`log_context` for code that cannot use a block (Celery's prerun/postrun signals): returns
    the token that `context_pop` takes."""
    return _context.set({**_context.get(), **values})


def context_pop(token) -> None:
    try:
        _context.reset(token)
    except ValueError:  # set in another context (a thread pool): nothing of ours to undo here
        pass
