"""One exception type for what a user can fix, and the script wrapper that turns it into one line."""

from __future__ import annotations

import sys
from collections.abc import Callable


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


def run_cli(main: Callable[[], int]) -> int:
    """Run a script's body: a :class:`SofpError` becomes one line on stderr and its exit code.

    Any other exception is a bug and keeps its traceback. Ctrl-C exits 130 without a traceback.
    """
    try:
        return main()
    except SofpError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        return 130
