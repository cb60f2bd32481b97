"""The one exception kgan raises for bad user input."""


class KganError(ValueError):
    """A problem with the user's input, stated in one line with its fix.

    The CLI prints the message and exits with status 2; library callers catch it
    like any `ValueError`.
    """
