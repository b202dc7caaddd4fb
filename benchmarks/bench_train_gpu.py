"""GPU training throughput for ALBERT base: a notebook-like loop against albert-bench's training levers.

    .venv/bin/python benchmarks/bench_train_gpu.py [--steps 60] [--batch-size 32] [--compile]

Both loops train AlbertForQuestionAnswering (albert-base-v2 config, random init, the real tokenizer) on the
windows of the SQuAD 2.0 dev set (384/128; the train set is not needed to measure speed), same seed, same
initial weights:
  * baseline, like the original notebook: fp32, every batch padded to 384, eager attention, plain AdamW, random
    batches;
  * albert-bench's defaults: bf16 autocast, SDPA attention, fused AdamW, dynamic padding (`model.collate`);
  * the same with `--group-by-length` (`train.EpochSampler`: windows of similar length share a batch), and with
    `--compile` too (torch.compile) when asked.
Reported per loop: windows/s, tokens/s (real, unpadded tokens), MFU (model FLOPs of the real tokens against
the GPU's dense bf16 peak), peak memory; and the projected time of a 2-epoch SQuAD 2.0 fine-tune (132k windows per
epoch). Before timing, one identical batch goes through identical weights both ways and the logits of its real
tokens must agree (float rounding for SDPA + dynamic padding, bf16 rounding for autocast): the speed-up is not
bought with a different computation.

Without a GPU it runs the same code on CPU (`--tiny` for a small model in tests); figures are written to
benchmarks/RESULTS.md only from a GPU run unless --write is given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

from albert_bench.data import load_squad
from albert_bench.features import cached_features
from albert_bench.model import load_tokenizer
from albert_bench.model import collate, uses_token_type_ids
from albert_bench.trackers import describe_hardware
from albert_bench.train import EpochSampler

SQUAD2_TRAIN_WINDOWS = 132_000  # windows of the SQuAD 2.0 train set at 384/128 (albert-base-v2 tokenizer)
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}  # dense, SXM figures


def peak_flops(name: str) -> float | None:
    if "H100" in name and "PCIe" in name:
        return 756e12
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def train_flops_per_token(config, seq: float) -> float:
    """6 × (matmul parameters applied per token) + attention scores, forward and backward (×3).

    ALBERT shares one layer's weights across its layers, but applies them once per layer: compute counts layers.
    """
    h, i, L = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_layer = 4 * h * h + 2 * h * i
    embed_proj = config.embedding_size * h
    return 6 * (L * per_layer + embed_proj + 2 * h) + 3 * L * 4 * seq * h


def make_model(data: str, tiny: bool, attn: str):
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    cfg = AutoConfig.from_pretrained(f"{data}/albert-base-v2")
    if tiny:
        cfg.update({"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2, "num_hidden_layers": 2, "embedding_size": 32})
    cfg._attn_implementation = attn
    torch.manual_seed(0)
    return AutoModelForQuestionAnswering.from_config(cfg, attn_implementation=attn)


def adamw(model, fused: bool):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "LayerNorm" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "LayerNorm" not in n)]
    groups = [{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=3e-5, fused=fused) if fused else torch.optim.AdamW(groups, lr=3e-5)


def batches(feats, n_batches: int, batch_size: int, grouped: bool, seed: int = 0):
    sampler = EpochSampler(len(feats), seed, feats.lengths if grouped else None, batch_size)
    order = np.asarray(list(sampler))
    return [order[i * batch_size : (i + 1) * batch_size] for i in range(n_batches)]


def run_loop(name, model, feats, tok, idx_batches, device, *, bf16: bool, pad_to: int | None, fused: bool, compile: bool, warmup: int):
    tt = uses_token_type_ids(tok)
    model = model.to(device).train()
    opt = adamw(model, fused)
    step_fn = torch.compile(model) if compile else model
    multiple = 64 if compile else 1
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    real_tokens = windows = 0
    padded_tokens = 0
    t0 = None
    for k, idx in enumerate(idx_batches):
        if k == warmup:  # the clock starts after warm-up steps (allocator, autotuning, compilation)
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        b = collate(feats, idx, tok.pad_token_id, tt, labels=True, multiple=multiple)
        if pad_to:
            pad = pad_to - b["input_ids"].shape[1]
            b = {k2: (torch.nn.functional.pad(v, (0, pad), value=tok.pad_token_id if k2 == "input_ids" else 0) if v.ndim == 2 else v) for k2, v in b.items()}
        b = {k2: v.to(device, non_blocking=True) for k2, v in b.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = step_fn(**b).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if k >= warmup:
            windows += len(idx)
            real_tokens += int(feats.lengths[idx].sum())
            padded_tokens += b["input_ids"].numel()
    if cuda:
        torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    print(f"{name}: {windows / sec:.1f} windows/s, {real_tokens / sec:,.0f} tokens/s, peak {peak:.1f} GiB, last loss {loss.item():.3f}", flush=True)
    return {"windows_per_s": windows / sec, "tokens_per_s": real_tokens / sec, "padded_share": 1 - real_tokens / padded_tokens,
            "peak_gib": peak, "seconds": sec, "windows": windows, "last_loss": float(loss.item())}


def same_computation_check(data, tiny, feats, tok, device, batch_size) -> dict:
    """One batch, identical weights, the logits of the real tokens: the levers must not change what is computed.

    fp32 eager attention padded to 384 (baseline) vs fp32 SDPA with dynamic padding: equal to float rounding.
    Then bf16 autocast against that: equal to bf16 rounding. (The loss itself is not compared: a QA model's
    cross-entropy runs over every position, padding included, so padding to 384 changes the loss value.)
    """
    tt = uses_token_type_ids(tok)
    idx = np.arange(min(batch_size, len(feats)))
    real = torch.from_numpy(np.arange(int(feats.lengths[idx].max()))[None, :] < feats.lengths[idx][:, None])
    logits = {}
    for name, attn, bf16, pad in (("baseline", "eager", False, True), ("sdpa", "sdpa", False, False), ("sdpa_bf16", "sdpa", True, False)):
        model = make_model(data, tiny, attn).to(device).eval()  # eval: no dropout, so runs are comparable
        b = collate(feats, idx, tok.pad_token_id, tt, labels=False)
        if pad:
            p = int(feats.lengths.max()) - b["input_ids"].shape[1]
            b = {k: torch.nn.functional.pad(v, (0, p), value=tok.pad_token_id if k == "input_ids" else 0) for k, v in b.items()}
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            o = model(**{k: v.to(device) for k, v in b.items()})
        w = real.shape[1]
        logits[name] = torch.stack([o.start_logits[:, :w], o.end_logits[:, :w]]).float().cpu()[:, real]
    scale = float(logits["baseline"].abs().max())
    out = {"logit_scale": scale,
           "max_diff_sdpa_dynamic_padding": float((logits["sdpa"] - logits["baseline"]).abs().max()),
           "max_diff_bf16": float((logits["sdpa_bf16"] - logits["baseline"]).abs().max())}
    assert out["max_diff_sdpa_dynamic_padding"] <= 1e-3 * max(scale, 1.0), out
    assert out["max_diff_bf16"] <= 0.05 * max(scale, 1.0), out
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("ALBERT_BENCH_DATA", "../shared/data"))
    ap.add_argument("--steps", type=int, default=60, help="timed steps per loop (default 60)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed steps first (default 10)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--compile", action="store_true", help="also time albert-bench's loop under torch.compile")
    ap.add_argument("--tiny", action="store_true", help="a 2-layer model (tests; CPU)")
    ap.add_argument("--max-questions", type=int, default=0, help="use only the first N dev questions (tests)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--write", action="store_true", help="write RESULTS.md even without a GPU")
    args = ap.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # the baseline is plain fp32, as the notebook ran it
    tok = load_tokenizer(f"{args.data}/albert-base-v2")
    sq = load_squad(f"{args.data}/squad2/dev-v2.0.json")
    feats = cached_features(sq.examples[: args.max_questions or None], tok)
    n = args.warmup + args.steps
    if n * args.batch_size > len(feats):
        ap.error(f"--warmup + --steps = {n} batches of {args.batch_size} need more than the {len(feats)} windows")

    same = same_computation_check(args.data, args.tiny, feats, tok, device, args.batch_size)
    fused = device.type == "cuda"
    results = {
        "baseline": run_loop("baseline (fp32, pad to 384, eager attention, plain AdamW)", make_model(args.data, args.tiny, "eager"), feats, tok,
                             batches(feats, n, args.batch_size, grouped=False), device, bf16=False, pad_to=int(feats.lengths.max()), fused=False, compile=False, warmup=args.warmup),
        "albert-bench": run_loop("albert-bench default (bf16, SDPA, fused AdamW, dynamic padding)", make_model(args.data, args.tiny, "sdpa"), feats, tok,
                                 batches(feats, n, args.batch_size, grouped=False), device, bf16=True, pad_to=None, fused=fused, compile=False, warmup=args.warmup),
        "albert-bench --group-by-length": run_loop("albert-bench --group-by-length", make_model(args.data, args.tiny, "sdpa"), feats, tok,
                                                   batches(feats, n, args.batch_size, grouped=True), device, bf16=True, pad_to=None, fused=fused, compile=False, warmup=args.warmup),
    }
    if args.compile:
        results["albert-bench --group-by-length --compile"] = run_loop("albert-bench --group-by-length --compile", make_model(args.data, args.tiny, "sdpa"), feats, tok,
                                                          batches(feats, n, args.batch_size, grouped=True), device, bf16=True, pad_to=None, fused=fused, compile=True, warmup=args.warmup)
    gpu = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    peak = peak_flops(gpu)
    config = make_model(args.data, args.tiny, "sdpa").config
    mean_len = float(feats.lengths.mean())
    for r in results.values():
        r["mfu"] = r["tokens_per_s"] * train_flops_per_token(config, mean_len) / peak if peak else None
        r["projected_2_epochs_min"] = 2 * SQUAD2_TRAIN_WINDOWS / r["windows_per_s"] / 60
    base = results["baseline"]["windows_per_s"]
    out = {"device": gpu, "hardware": describe_hardware(), "batch_size": args.batch_size, "steps": args.steps, "tiny": args.tiny,
           "same_computation": same, "results": results}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    rows = []
    for name, r in results.items():
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a"
        rows.append(f"| {name} | {r['windows_per_s']:.0f} | {r['tokens_per_s']:,.0f} | {100 * r['padded_share']:.0f}% | {mfu} | {r['peak_gib']:.1f} | "
                    f"{r['projected_2_epochs_min']:.1f} | **{r['windows_per_s'] / base:.1f}×** |")
    body = (
        "## GPU training, ALBERT base (`benchmarks/bench_train_gpu.py`)\n\n"
        f"{gpu}; AlbertForQuestionAnswering, albert-base-v2 config, random init, real tokenizer, SQuAD 2.0 dev windows "
        f"(384/128, mean {mean_len:.0f} tokens), batch {args.batch_size}, {args.steps} timed steps after {args.warmup}. "
        f"Same batch, same weights, logits of the real tokens (scale {same['logit_scale']:.2f}): SDPA + dynamic padding "
        f"differ from the baseline by at most {same['max_diff_sdpa_dynamic_padding']:.1e}, bf16 autocast by {same['max_diff_bf16']:.1e}.\n\n"
        "| loop | windows/s | tokens/s | padding | MFU (bf16 peak) | peak GiB | 2 epochs SQuAD 2.0 (min, projected) | speed-up |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(rows) + "\n"
    )
    print(body)
    if device.type == "cuda" or args.write:
        write_section("train-gpu", body)
    return out


if __name__ == "__main__":
    main()
