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
