"""Write one benchmark's section of benchmarks/RESULTS.md, with the machine it ran on."""

from __future__ import annotations

import re
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    from albert_bench.trackers import describe_hardware

    return describe_hardware()


def cpu_flags() -> str:
    """The CPU's flags that decide bf16 and int8 speed (lscpu), for the line under a figure."""
    import subprocess

    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    flags = next((line.split(":", 1)[1].split() for line in out.splitlines() if line.startswith("Flags")), [])
    wanted = [f for f in flags if f in ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile", "avx_vnni")]
    return ", ".join(wanted) or "none of avx2/avx512f/avx512_bf16/amx"


def native_bf16_cpu() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX): the package's one probe, what `auto` decides by."""
    from albert_bench.qa import cpu_has_bf16

    return cpu_has_bf16()


def per_cpu_kind(name: str) -> str:
    """A section name of its own for CPUs without native bf16, so that a run on one kind of CPU does not erase the
    other kind's figures (these machines change between sessions: AVX512-BF16 in some, plain AVX2 in others)."""
    return name if native_bf16_cpu() else f"{name} (CPU without native bf16)"


def write_section(name: str, body: str, where: str | None = None) -> None:
    """Replace (or append) the section between markers named `name`; `where` names the machine if not this one."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nEach section is written by the script it names; rerun it to refresh.\n"
    block = f"<!-- {name}:start -->\n{body.rstrip()}\n\n_{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {where or machine()}_\n<!-- {name}:end -->"
    pat = re.compile(f"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S)
    text = pat.sub(lambda _: block, text) if pat.search(text) else text.rstrip() + "\n\n" + block + "\n"
    from albert_bench.files import atomic_write

    with atomic_write(str(RESULTS), what="benchmarks/RESULTS.md", then="run the benchmark again") as fh:
        fh.write(text)


def save_json(path: Path, obj) -> None:
    """A benchmark's stored rows (each row may have taken 40 minutes): written through the package's one atomic
    writer, so a kill or a full disk during the write keeps the rows stored before it."""
    from albert_bench.files import write_json_atomic

    write_json_atomic(str(path), obj, then="run the benchmark again")


def best_of(n: int, fn):
    """(fastest of n timed calls, the last call's result)."""
    best, out = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out
