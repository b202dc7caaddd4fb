"""The one exception type that the command line turns into a one-line message and a non-zero exit."""


class BenchError(Exception):
    """A problem with the user's input or environment: what is wrong, where, and how to fix it.

    The CLI prints ``error: <message>`` and exits with status 2; it never shows a traceback for these.
    """
