"""Which tests execute each line of one module: scripts/mutation.sh runs the module's test selection once under
coverage with one context per test (test_contexts.py: switched at each test's start, for every thread), then this writes
{line: ["tests/test_x.py::test_y", ...]} for mutmut_config.py's pre_mutation hook to pick a mutant's tests.

    python coverage_map.py DATA_FILE MODULE_PATH OUT_JSON [JUNIT_XML]

With the coverage run's JUnit XML, each line's tests are listed fastest first: a mutant runs them with -x, so a
killed one stops at the first (quick) test that fails instead of after the slow ones."""

import json
import sys
import xml.etree.ElementTree as ET

import coverage


def node_id(context: str) -> str:
    """coverage's 'test_files.test_reader' (module.function, or module.Class.method) as pytest's node id."""
    module, _, rest = context.partition(".")
    return f"tests/{module}.py::" + rest.replace(".", "::")


def durations(junit: str) -> dict:
    """node id (function level) -> seconds, summed over its parametrized cases."""
    took = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")[-1]
        node = f"tests/{module}.py::{case.get('name', '').split('[')[0]}"
        took[node] = took.get(node, 0.0) + float(case.get("time", 0))
    return took


def main(data_file: str, module_path: str, out: str, junit: str | None = None) -> None:
    took = durations(junit) if junit else {}
    data = coverage.CoverageData(basename=data_file)
    data.read()
    path = next((f for f in data.measured_files() if f.endswith(module_path)), None)
    if path is None:
        raise SystemExit(f"coverage_map: {module_path} was not measured by the tests (is it imported?)")
    by_line = {}
    for line, contexts in data.contexts_by_lineno(path).items():
        # "" = run at import, not by a test; a context outside tests/ (hypothesis's engine names its own runner
        # `test_function`) cannot be traced to its test: --rerun-all's whole selection catches what those kill
        tests = sorted({node_id(c) for c in contexts if c.startswith("test_")}, key=lambda t: (took.get(t, 1e9), t))
        if tests:
            by_line[line] = tests
    with open(out, "w") as f:
        json.dump(by_line, f)
    print(f"coverage_map: {len(by_line)} lines of {module_path} executed by tests", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:])
