"""One exception type for what a user can fix, and the script wrapper that turns it into one line.

Exit codes of every CLI (README, "Exit codes"): 0 done, 1 a failure at run time, 2 bad usage or a
missing capability, 130 interrupted (Ctrl-C, SIGINT), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class SofpError(Exception):
    """A problem the user can fix (bad input, missing file, missing capability).

    The message is one line: what failed, the value given, what would be valid.
    ``exit_code`` is 2 for bad usage or a missing capability, 1 for a failure at run time.
    """

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(SofpError):
    """Bad arguments, a file of the wrong kind, a capability this machine lacks (exit 2)."""

    exit_code = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, systemd, ``docker stop``), raised in the main thread so that it unwinds like
    Ctrl-C: outputs are closed and finalised, the summary is printed, and the exit code is 143."""


def _raise_terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not break the clean-up
    raise Terminated()


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then raise them as usual: a frame's outputs (events,
    telemetry, recordings, counters) are written all or not at all. Outside the main thread, a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[signal.Signals] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: pending.append(signal.Signals(signum)))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending:
            handler = previous[pending[0]]
            if callable(handler):
                handler(pending[0], None)  # raises KeyboardInterrupt or Terminated, as the signal would have
            signal.raise_signal(pending[0])  # default or ignored: what the signal would have done


def exit_code_for(exc: KeyboardInterrupt) -> int:
    """143 for SIGTERM, 130 for Ctrl-C."""
    return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED


def run_cli(main: Callable[[], int]) -> int:
    """Run a script's body: a :class:`SofpError` becomes one line on stderr and its exit code.

    Any other exception is a bug and keeps its traceback. Ctrl-C exits 130 and SIGTERM 143, both
    without a traceback (SIGTERM is turned into :class:`Terminated` while ``main`` runs).
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return main()
    except SofpError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print("terminated" if isinstance(exc, Terminated) else "interrupted", file=sys.stderr, flush=True)
        return exit_code_for(exc)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
