"""A Ctrl-C or SIGTERM that stays seen until the command ends.

Beam catches what a DoFn's teardown raises, logs it and goes on (its worker handlers close
inside ``except Exception``), so an interrupt that lands there would be lost and the run
would carry on to the end with exit 0. The handlers here remember the signal before raising,
and :func:`check` (at the end of every pipeline and step) raises it again.
"""

from __future__ import annotations

import signal


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that a run unwinds (locks released) as on Ctrl-C."""


_seen: list[type[KeyboardInterrupt]] = []


def _on_signal(signum, frame) -> None:
    exc = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    _seen.append(exc)
    raise exc()


def install() -> None:
    """SIGINT raises KeyboardInterrupt and SIGTERM Terminated, both remembered; a handler
    someone else set is left alone."""
    clear()
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_signal)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_signal)


def check() -> None:
    """Raise the first interrupt seen since :func:`install`, if any."""
    if _seen:
        raise _seen[0]()


def clear() -> None:
    _seen.clear()
