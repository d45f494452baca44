"""Reading pages ahead: a finder's next pages are fetched in a thread while the caller stores the
page it has, so LinkedIn's answer time overlaps the caller's work instead of adding to it.

Only HTTP runs in the thread. Whatever must run in the caller's thread (a token refresh writes the
connection's row, with the caller's database connection and transaction) is handed back to it: the
fetching thread asks, the caller does it when it takes its next page, and the thread waits for
the answer. At most `depth` pages wait besides the one being fetched, so memory stays bounded by a
few pages whatever the window's size. When the caller stops early (an error, a lock lost), the
thread is stopped and waited for before the caller goes on: nothing is fetched behind its back.
"""

import queue
import threading
from concurrent.futures import Future

from connectors.log_context import current_context, log_context


class _Stopped(Exception):
    """The caller stopped reading: the fetching thread ends."""


def pages_ahead(pages, *, depth=1, in_caller=None):
    """Yield the items of the iterator `pages`, fetched up to `depth` items ahead in a thread.

    `in_caller` is called with a function `run(call)` before the thread starts, and with None once
    it has ended: code inside the iterator calls `run(call)` to have `call()` run in the caller's
    thread; it returns what `call()` returned there, or raises what it raised. Exceptions of the
    iterator are raised to the caller, at the point it reached."""
    handoff = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    caller = threading.current_thread()

    def put(item):
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return
            except queue.Full:
                continue
        raise _Stopped

    def run_in_caller(call):
        if threading.current_thread() is caller:
            return call()
        answer = Future()
        put(("call", (call, answer)))
        while True:
            try:
                return answer.result(timeout=0.05)
            except TimeoutError:
                if stop.is_set():
                    raise _Stopped from None

    def fetch():
        try:
            for page in pages:
                put(("page", page))
            put(("end", None))
        except _Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it
            try:
                put(("error", exc))
            except _Stopped:
                pass

    context = current_context()

    def fetch_logged():
        # The thread's records belong to the caller's run (only the log context is carried over:
        # copying the whole contextvars context would hand the caller's database connection over too).
        with log_context(**context):
            fetch()

    if in_caller is not None:
        in_caller(run_in_caller)
    thread = threading.Thread(target=fetch_logged, name="leadsync-pages-ahead", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "page":
                yield value
            elif kind == "call":
                call, answer = value
                try:
                    answer.set_result(call())
                except BaseException as exc:  # noqa: BLE001 - raised in the fetching thread
                    answer.set_exception(exc)
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        thread.join()
        if in_caller is not None:
            in_caller(None)
