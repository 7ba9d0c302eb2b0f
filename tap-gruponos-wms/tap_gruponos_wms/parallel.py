"""Several streams at once (`max_parallel_streams`): every piece of the machinery is here.

`sync_streams` replaces the SDK's one-stream-after-another loop (`Tap.sync_all`) with a pool
of that many threads; each stream runs the SDK's own `Stream.sync` in its thread, with its own
keyset walk, HTTP session and bookmark. singer-sdk is not written for this, so what its
streams share is guarded here:

- Output. Every message goes through `Tap.write_message`, STATE included (`LockedStateWriter`
  replaces the SDK's writer, whose dedupe and deep copy read the whole state dict). One lock
  (`RunControl.lock`) is held for each write to stdout, so lines are whole and never
  interleaved; a thread's RECORD lines wait in its own buffer (no lock per record) and leave
  before its next other message. Each stream's SCHEMA precedes its records because one thread
  writes both, in that order.
- State. `tap.state` is one dict with every stream's bookmark. A thread changes only its own
  stream's entry, and only under the same lock (`LockedStreamState`: the SDK creates entries
  lazily and updates them in `_write_starting_replication_value` and the finalisers), so a
  STATE serialised by one thread never sees another thread's entry half-changed.
- Safety of every STATE. A stream moves its bookmark only after writing every record below it
  (`walk`), so a STATE written by any thread at any moment holds a safe bookmark for
  every stream: a SIGKILL then a resume from the last STATE loses nothing.
- One OAuth2 token: the tap's single authenticator renews under its own lock (`auth`).
- One request budget: every request of the run, whatever its stream or purpose, holds one of
  `max_concurrent_requests` slots while in flight (`RunControl.request_slot`); each stream
  reads its parts with as many readers (`walk`).
- Failure. The first stream to fail sets `RunControl.stop`; the others raise `StreamStopped`
  before their next page (leaving their bookmark where it safely is) and queued streams do not
  start. Then one last STATE with every stream's bookmark is written and the first failure is
  raised again, its message naming the entity.

With one thread the messages are exactly those of the SDK's sequential loop.
"""

from __future__ import annotations

import copy
import threading
import typing as t
from concurrent.futures import ThreadPoolExecutor

from singer_sdk.helpers._state import StateWriter
from singer_sdk.singerlib import RecordMessage, StateMessage

if t.TYPE_CHECKING:
    from singer_sdk import Stream, Tap


class StreamStopped(BaseException):
    """Raised in a stream's thread to end it early because another stream failed.

    A BaseException, like SystemExit: the SDK reports any Exception escaping a stream's sync
    as that stream's error, and a stream stopped for another's failure has none."""


class RunControl:
    """What the threads of one run share: the output lock, the stop signal and the request
    budget (`max_concurrent_requests` requests in flight, all streams together)."""

    def __init__(self, budget: t.Callable[[], int]) -> None:
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.last_state: dict | None = None  # value of the last message if it was a STATE
        self._budget = budget  # read at the first request, once the settings are known
        self._slots: threading.BoundedSemaphore | None = None
        self._slots_lock = threading.Lock()

    def request_slot(self) -> threading.BoundedSemaphore:
        """Held for the time of one request (``with control.request_slot(): ...``)."""
        with self._slots_lock:
            if self._slots is None:
                self._slots = threading.BoundedSemaphore(self._budget())
            return self._slots

    def write(self, write: t.Callable[[t.Any], None], message: t.Any) -> None:
        """Write one message, any but a RECORD under the lock, remembering the last one if it
        is a STATE (a RECORD goes to its thread's own buffer, see `writer`)."""
        if isinstance(message, RecordMessage):
            write(message)
            self.last_state = None
            return
        with self.lock:
            write(message)
            is_state = isinstance(message, StateMessage)
            self.last_state = copy.deepcopy(message.value) if is_state else None

    def check(self, stream_name: str) -> None:
        """Raise StreamStopped if another stream failed (called before each page)."""
        if self.stop.is_set():
            raise StreamStopped(stream_name)


class LockedStateWriter(StateWriter):
    """The SDK's STATE dedupe, under the run's lock and through `Tap.write_message`."""

    def __init__(self, tap: Tap, control: RunControl) -> None:
        super().__init__(tap.message_writer)
        self._tap = tap
        self._control = control

    def write_state(self, state: dict) -> None:
        with self._control.lock:
            if self._last_emitted_state is None or state != self._last_emitted_state:
                self._tap.write_message(StateMessage(value=state))
                self._last_emitted_state = copy.deepcopy(state)


class LockedStreamState:
    """Mixin for streams: the SDK's reads and writes of the shared state dict, under the lock."""

    _tap: t.Any

    def get_context_state(self, context: t.Any) -> dict:
        with self._tap.run_control.lock:
            return super().get_context_state(context)  # type: ignore[misc]

    @property
    def stream_state(self) -> dict:
        with self._tap.run_control.lock:
            return super().stream_state  # type: ignore[misc]

    def _write_starting_replication_value(self, context: t.Any) -> None:
        with self._tap.run_control.lock:
            super()._write_starting_replication_value(context)  # type: ignore[misc]

    def _finalize_state(self, state: dict | None = None) -> None:
        with self._tap.run_control.lock:
            super()._finalize_state(state)  # type: ignore[misc]

    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        with self._tap.run_control.lock:
            super().finalize_state_progress_markers(state)  # type: ignore[misc]

    def _write_state_message(self) -> None:
        with self._tap.run_control.lock:
            super()._write_state_message()  # type: ignore[misc]


def sync_streams(tap: Tap, streams: list[Stream], max_parallel: int) -> None:
    """Sync `streams` with at most `max_parallel` at a time (see the module docstring)."""
    control: RunControl = tap.run_control  # type: ignore[attr-defined]
    failures: list[tuple[Stream, BaseException]] = []
    control.stop.clear()

    def run(stream: Stream) -> None:
        if control.stop.is_set():
            return
        try:
            stream.sync()
            stream.finalize_state_progress_markers()
        except StreamStopped:
            pass
        except BaseException as error:
            with control.lock:
                failures.append((stream, error))
            control.stop.set()

    pool = ThreadPoolExecutor(max_parallel, thread_name_prefix="stream")
    try:
        for future in [pool.submit(run, stream) for stream in streams]:
            future.result()
    finally:
        control.stop.set()  # also on SIGTERM / Ctrl-C in the main thread: threads end soon
        pool.shutdown(wait=True)
        _write_last_state(tap, control)
    if failures:
        stream, error = failures[0]
        raise _naming(error, stream)


def _write_last_state(tap: Tap, control: RunControl) -> None:
    """End the output with every record held and a STATE holding every stream's current
    (safe) bookmark."""
    with control.lock:
        tap.flush_all_output()
        if tap.state and control.last_state != tap.state:
            tap.write_message(StateMessage(value=tap.state))


def _naming(error: BaseException, stream: Stream) -> BaseException:
    """The error, its message prefixed with the entity unless it already names it."""
    entity = getattr(stream, "entity", stream.name)
    text = str(error)
    if entity not in text and error.args and isinstance(error.args[0], str):
        error.args = (f"{entity}: {text}", *error.args[1:])
    return error
