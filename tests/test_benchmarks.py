"""The GPU training benchmark must run unchanged when a GPU is lent: here its code runs on CPU with a tiny model."""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train_gpu.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_train_gpu", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_train_benchmark_runs_on_cpu_and_compares_like_with_like(tmp_path, dev_file):
    from tests.conftest import DATA

    bench = _load()
    out = bench.main(["--data", str(DATA), "--tiny", "--steps", "3", "--warmup", "1", "--batch-size", "4",
                      "--max-questions", "200", "--json", str(tmp_path / "g.json")])
    assert json.loads((tmp_path / "g.json").read_text())["results"].keys() == out["results"].keys() == {"baseline", "albert-bench", "albert-bench --group-by-length"}
    base, ours, grouped = (out["results"][k] for k in ("baseline", "albert-bench", "albert-bench --group-by-length"))
    assert base["windows"] == ours["windows"] == grouped["windows"] == 12
    assert base["padded_share"] > ours["padded_share"] > grouped["padded_share"]  # dynamic padding, then length-grouped batches
    assert grouped["padded_share"] < base["padded_share"] / 3
    same = out["same_computation"]
    assert same["max_diff_sdpa_dynamic_padding"] < 1e-4 and same["max_diff_bf16"] > 0  # bf16 really ran
    assert all(r["windows_per_s"] > 0 and r["projected_2_epochs_min"] > 0 for r in out["results"].values())


def test_mfu_arithmetic():
    from types import SimpleNamespace

    bench = _load()
    albert_base = SimpleNamespace(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, embedding_size=128)
    # 12 layers × (4·768² + 2·768·3072) = 84.9M matmul weights applied per token, ×6 for forward + backward
    assert abs(bench.train_flops_per_token(albert_base, 0) / 6 - (12 * 7_077_888 + 128 * 768 + 2 * 768)) < 1
    assert bench.peak_flops("NVIDIA H100 80GB HBM3") == 989e12 and bench.peak_flops("NVIDIA H100 PCIe") == 756e12
    assert bench.peak_flops("Some CPU") is None


def test_recipe_verdict_calls_level_only_within_the_seeds_spread():
    spec = importlib.util.spec_from_file_location("bench_recipe", BENCH.parent / "bench_recipe.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    def rows(ours_f1, ref_f1):
        row = lambda f1, wall: {"best_f1": f1, "HasAns_f1": 40.0, "wall_s": wall}  # noqa: E731
        return {**{f"ours, seed {i}": row(f1, 100.0) for i, f1 in enumerate(ours_f1)},
                **{f"ref, seed {i}": row(f1, 150.0) for i, f1 in enumerate(ref_f1)}}

    verdict = lambda o, r: bench.seed_means(rows(o, r), ["ours", "ref"])[-1]  # noqa: E731
    # The fp32 preset's rows: 0.34 behind where the seeds spread by 0.02 and 0.05 is not noise.
    assert "tuned F1 -0.34 (behind: more than the seeds' spread of 0.05)" in verdict([55.65, 55.67], [55.97, 56.02])
    assert "(level: within the seeds' spread of 0.60)" in verdict([55.0, 55.6], [55.5, 55.7])
    assert "(ahead)" in verdict([56.5, 56.6], [56.0, 56.1]) and "(level)" in verdict([56.0, 56.1], [56.0, 56.05])
    assert "wall time to scored predictions 1.50× (ahead)" in verdict([1.0, 1.0], [1.0, 1.0])
    # wall time: ahead only beyond the seeds' spread of wall times (the fp32 preset's rows: 1.02× inside 356 s)
    walls = lambda o, r: {**{f"ours, seed {i}": {"best_f1": 56.5, "HasAns_f1": 40.0, "wall_s": w} for i, w in enumerate(o)},  # noqa: E731
                          **{f"ref, seed {i}": {"best_f1": 56.0, "HasAns_f1": 40.0, "wall_s": w} for i, w in enumerate(r)}}
    assert "1.02× (level: within the seeds' spread of 356 s)" in bench.seed_means(walls([3066.5, 3422.6], [3405.3, 3204.8]), ["ours", "ref"])[-1]
    assert "0.68× (behind: more than the seeds' spread of 10 s)" in bench.seed_means(walls([150.0, 160.0], [100.0, 110.0]), ["ours", "ref"])[-1]
    assert bench.seed_means({"ours, seed 1": {"best_f1": 1.0, "HasAns_f1": 1.0, "wall_s": 1.0}}, ["ours", "ref"]) == []  # one seed: no mean
    # a lever's side with its own seeds gets its own verdict, beside the plain side's
    lever = {f"ours --x 1, seed {i}": {"best_f1": f1, "HasAns_f1": 40.0, "wall_s": 120.0} for i, f1 in enumerate([56.495, 56.495])}
    lines = bench.seed_means({**rows([55.65, 55.67], [55.97, 56.02]), **lever}, ["ours", "ref"])
    assert [line.split(" against")[0] for line in lines if " against the reference" in line] == ["ours", "ours --x 1"]
    assert "ours --x 1 against the reference: tuned F1 +0.50 (ahead), wall time to scored predictions 1.25× (ahead)." in lines


def test_recipe_findings_stay_with_their_rows_until_a_new_note(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_recipe", BENCH.parent / "bench_recipe.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    store = tmp_path / "rows.json"
    assert bench.load_store(store, {"epochs": 3}, "") == ({}, "")  # nothing stored yet
    store.write_text(json.dumps({"settings": {"epochs": 3}, "rows": {"r, seed 1": {}}, "note": "Findings: x."}))
    assert bench.load_store(store, {"epochs": 3}, "") == ({"r, seed 1": {}}, "Findings: x.")  # a run adding a row keeps them
    assert bench.load_store(store, {"epochs": 3}, "New.")[1] == "New."
    assert bench.load_store(store, {"epochs": 2}, "") == ({}, "")  # other settings: other rows, other findings


def test_cpu_answer_bar_is_bounded_only_by_a_probe_faster_than_fp32():
    spec = importlib.util.spec_from_file_location("bench_cpu_answer", BENCH.parent / "bench_cpu_answer.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    int8 = "`evaluate --backend onnx`, int8 export"
    timed = {"`evaluate --precision fp32`": 60.0, int8: 40.0}
    found = [{"name": "PyTorch fp32", "ops": {"aten::addmm": 40.0, "aten::gelu": 5.0}}]

    def int8_row(top):
        return next(line for line in bench.bar_table(timed, 70.0, top, found) if line.startswith(f"| {int8} "))

    # torch's int8 product without VNNI (2 GOP/s against fp32's 136): no fast kernel measured, so no bound; the bar is the target.
    assert int8_row({"fp32": 136.0, "int8": 2.0}) == f"| {int8} | 1.75× | 6× | - | 6.00× | **no** |"
    if "amx" not in bench.cpu_flags():  # a fast probe bounds the bar: 70 / (60 - 40 + 40 / 4) = 2.33x
        assert int8_row({"fp32": 100.0, "int8": 400.0}) == f"| {int8} | 1.75× | 6× | 2.33× | 2.33× | **no** |"


def test_results_and_stored_rows_survive_a_write_that_fails(tmp_path):
    """A real fault: a benchmark's process may write files of 3 kB (RLIMIT_FSIZE, as a full disk would). Writing a
    longer RESULTS.md section or a longer row store fails in one line, and both files keep what they held: rows
    that each took 40 minutes are never lost to a half-written store."""
    import os
    import subprocess
    import sys

    results, store = tmp_path / "RESULTS.md", tmp_path / "rows.json"
    results.write_text("# Benchmark results\n\n" + "kept line\n" * 100)
    store.write_text(json.dumps({"row 1": {"f1": 56.5, "wall_s": 3066.5}}, indent=1))
    before = results.read_bytes(), store.read_bytes()
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))\n"
            f"sys.path.insert(0, {str(BENCH.parent)!r}); import _results; from pathlib import Path\n"
            f"_results.RESULTS = Path({str(results)!r})\n"
            "for write in (lambda: _results.write_section('x', 'a long section\\n' * 400, where='here'),\n"
            f"              lambda: _results.save_json(Path({str(store)!r}), {{'row ' + str(i): {{'f1': 1.0}} for i in range(400)}})):\n"
            "    try:\n        write()\n    except Exception as e:\n        print(type(e).__name__, e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(BENCH.parents[1])})
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0 and len(lines) == 2, r.stdout + r.stderr
    assert lines[0].startswith("BenchError could not write benchmarks/RESULTS.md") and lines[1].startswith(f"BenchError could not write the file {store}")
    assert (results.read_bytes(), store.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RESULTS.md", "rows.json"]
