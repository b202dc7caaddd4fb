"""The one exception type that the command line turns into a one-line message and a non-zero exit."""


def all_problems(*checks):
    """Run every check (a callable) and return their results; raise one BenchError listing every problem
    found, so that a user fixes them all at once instead of one per run."""
    results, problems = [], []
    for check in checks:
        try:
            results.append(check())
        except BenchError as e:
            problems.extend(getattr(e, "problems", None) or [str(e)])  # a check that found several: each counted
            results.append(None)
    if problems:
        raise several(problems)
    return results


def several(problems: list[str]) -> "BenchError":
    """One BenchError saying every problem (numbered when more than one); `.problems` keeps the list."""
    e = BenchError(problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + " | ".join(f"({i}) {p}" for i, p in enumerate(problems, 1)))
    e.problems = list(problems)
    return e


class BenchError(Exception):
    """A problem with the user's input or environment: what is wrong, where, and how to fix it.

    The CLI prints ``error: <message>`` and exits with status 2; it never shows a traceback for these.
    """
