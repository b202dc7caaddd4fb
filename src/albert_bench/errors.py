"""The one exception type that the command line turns into a one-line message and a non-zero exit."""


def all_problems(*checks):
    """Run every check (a callable) and return their results; raise one BenchError listing every problem
    found, so that a user fixes them all at once instead of one per run."""
    results, problems = [], []
    for check in checks:
        try:
            results.append(check())
        except BenchError as e:
            problems.append(str(e))
            results.append(None)
    if len(problems) > 1:
        raise BenchError(f"{len(problems)} problems: " + " | ".join(f"({i}) {p}" for i, p in enumerate(problems, 1)))
    if problems:
        raise BenchError(problems[0])
    return results


class BenchError(Exception):
    """A problem with the user's input or environment: what is wrong, where, and how to fix it.

    The CLI prints ``error: <message>`` and exits with status 2; it never shows a traceback for these.
    """
