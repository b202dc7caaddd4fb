"""A pytest plugin for mutation.sh's coverage run: one coverage context per test, switched for the whole process.

coverage's own `dynamic_context = test_function` names a line's context from the stack of the thread that runs it,
so a line that a live server's thread (uvicorn, the micro-batcher's worker) runs for a test's request is recorded
under no test, and each serve mutant there had to run the whole selection. Switching the context at each test's
start (as pytest-cov's --cov-context=test does) attributes every thread's lines to the test that is running.
A module-scoped fixture's setup counts for the first test that uses it, which runs first in its selection too."""

import coverage
import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    cov = coverage.Coverage.current()
    if cov is not None:
        # 'test_serve.test_x' (module.function, parameters dropped): what coverage_map.node_id reads back
        module = item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        cov.switch_context(module + "." + ".".join(p.split("[")[0] for p in item.nodeid.split("::")[1:]))
