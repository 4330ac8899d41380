"""Errors raised on bad input, before any training starts.

Every error names the parameter, the value it got and what is allowed, so that a user reading a
failed notebook cell or a non-zero exit of the runner knows what to change.
"""

from __future__ import annotations

from typing import Any


class ParameterError(ValueError):
    """A parameter has a value that nlpdiff cannot use.

    >>> raise ParameterError("epochs", 0, "an integer >= 1")
    Traceback (most recent call last):
    ...
    nlpdiff.errors.ParameterError: epochs=0 is not allowed: expected an integer >= 1
    """

    def __init__(self, param: str, value: Any, allowed: str, hint: str | None = None):
        self.param = param
        self.value = value
        self.allowed = allowed
        message = f"{param}={value!r} is not allowed: expected {allowed}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class Interrupted(KeyboardInterrupt):
    """A command stopped by Ctrl-C (SIGINT) or SIGTERM.

    ``message``: one sentence on what was kept and how to go on; ``signum``: the signal (2 for
    SIGINT, 15 for SIGTERM). The ``nlpdiff`` command prints it on one line and exits with
    ``128 + signum`` (130 for Ctrl-C).
    """

    def __init__(self, message: str = "", signum: int = 2):
        super().__init__(message)
        self.message = message
        self.signum = int(signum)
