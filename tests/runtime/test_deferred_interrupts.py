"""A signal that arrives while a frame's outputs are written waits for the frame to finish."""

import os
import signal
import time

import pytest

from sofp.runtime import errors
from sofp.runtime.errors import Terminated, deferred_interrupts


@pytest.mark.parametrize(("sig", "handler", "raised"), [
    (signal.SIGTERM, errors._raise_terminated, Terminated),
    (signal.SIGINT, signal.default_int_handler, KeyboardInterrupt),
])
def test_a_signal_waits_for_the_end_of_the_block(sig, handler, raised):
    previous = signal.signal(sig, handler)
    finished = []
    try:
        with pytest.raises(raised), deferred_interrupts():
            os.kill(os.getpid(), sig)
            time.sleep(0.02)  # the signal is delivered here, and held
            finished.append(True)
        assert finished == [True]
        assert signal.getsignal(sig) in (handler, signal.SIG_IGN)  # restored (SIGTERM's handler then ignores repeats)
    finally:
        signal.signal(sig, previous)


def test_no_signal_no_effect():
    before = signal.getsignal(signal.SIGINT)
    with deferred_interrupts():
        pass
    assert signal.getsignal(signal.SIGINT) is before
