"""`albert-bench report RUN_DIR [RUN_DIR ...]`: one self-contained HTML page (and a Markdown twin) per set of runs.

Per run: model, data files and their hashes, resolved config, hardware, wall time and windows/s; the per-epoch
table; plots (training loss per step, EM/F1 per epoch, EM/F1 against the no-answer threshold, precision/recall
of no-answer detection, answer lengths gold vs predicted); error analysis of the best model's dev predictions;
published SQuAD 2.0 dev results for the same model where known. Several runs add a leaderboard.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from dataclasses import dataclass, field

import numpy as np

from .data import load_dataset, load_squad
from .decode import answers
from .errors import BenchError
from . import rundir
from .files import QA_CONFIG, atomic_write, check_not_in_model, check_ours, check_output, claim, hold
from .metric import get_raw_scores, make_qid_to_has_ans

# Published SQuAD 2.0 dev results, with the threshold each number uses.
PUBLISHED = {
    "albert-base-v2": [
        ("google-research/albert README", "threshold tuned on dev", 79.3, 82.1),
        ("Hugging Face run_qa.py run", "threshold 0", 78.82, 82.00),
    ],
}
ERROR_KINDS = ("correct", "partial overlap", "wrong span", "no answer when answerable", "answered when no answer")


@dataclass
class Run:
    path: str
    name: str
    config: dict
    info: dict
    metrics: list[dict]
    steps: list[tuple[int, float]]  # (step, train loss), from TensorBoard when it was on, else per evaluation
    analysis: dict | None = None
    notes: list[str] = field(default_factory=list)
    calibration: dict | None = None  # best/qa_config.json's: p_correct's fit and its held-out reliability


def _tb_losses(run_dir: str) -> list[tuple[int, float]]:
    tb = rundir.path(run_dir, rundir.TENSORBOARD)
    if not os.path.isdir(tb):
        return []
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(tb, size_guidance={"scalars": 0})
    acc.Reload()
    if "train/loss" not in acc.Tags().get("scalars", []):
        return []
    return [(e.step, e.value) for e in acc.Scalars("train/loss")]


def load_run(run_dir: str, dev_file: str | None = None) -> Run:
    metrics_path = rundir.path(run_dir, rundir.METRICS)
    if not os.path.exists(metrics_path):
        raise BenchError(f"{run_dir}: no {rundir.METRICS}; pass {rundir.WHAT}")
    metrics = rundir.read_metrics(run_dir)
    if not metrics:
        raise BenchError(f"{metrics_path}: no evaluations yet; report a run that finished at least one evaluation")
    config = rundir.read(run_dir, rundir.CONFIG) or {}
    info = rundir.read(run_dir, rundir.RUN_INFO) or {}
    steps = _tb_losses(run_dir) or [(r["step"], r["train_loss"]) for r in metrics if r.get("train_loss") is not None]
    run = Run(run_dir, os.path.basename(os.path.normpath(run_dir)), config, info, metrics, steps)
    run.calibration = (rundir.read(run_dir, rundir.BEST, QA_CONFIG, lenient=True) or {}).get("calibration")
    preds = rundir.read(run_dir, rundir.BEST, rundir.DEV_PREDICTIONS)
    dev = dev_file or info.get("dev_file") or config.get("dev_file")
    from_dataset = not dev_file and str(info.get("dev_sha256", "")).startswith("datasets:")  # trained with --dataset
    if preds is None:
        run.notes.append(f"no {rundir.BEST}/{rundir.DEV_PREDICTIONS}: error analysis and threshold plots skipped")
    elif not dev or not (os.path.exists(dev) or from_dataset):
        run.notes.append(f"dev file {dev!r} not found: pass --dev-file to get the error analysis")
    else:
        sq = load_dataset(dev) if from_dataset else load_squad(dev, flag="--dev-file")
        if info.get("dev_sha256") and sq.sha256 != info["dev_sha256"]:
            run.notes.append(f"WARNING: {dev} differs from the dev file the run used (sha256 mismatch)")
        thresh = (rundir.read(run_dir, rundir.BEST, QA_CONFIG) or {}).get("null_threshold", 0.0)
        run.analysis = analyse(sq, preds, thresh)
    return run


def analyse(sq, preds: dict, threshold: float) -> dict:
    """Threshold curves, error kinds and worst examples for the best model's dev predictions."""
    best_text, odds_map = preds["best_text"], preds["null_odds"]
    exact, f1 = get_raw_scores(sq.data, best_text)
    has = make_qid_to_has_ans(sq.data)
    ids = [q for q in exact if q in odds_map]
    if not ids:
        raise BenchError("the best model's dev predictions share no question id with the dev file; pass the dev file the run used with --dev-file")
    ex = np.array([exact[q] for q in ids], float)
    f = np.array([f1[q] for q in ids], float)
    h = np.array([has[q] for q in ids], bool)
    odds = np.array([odds_map[q] for q in ids], float)
    text_empty = np.array([not best_text[q] for q in ids], bool)

    # Answer a question when its null odds ≤ t (as decode does); otherwise "", which scores 1 only when unanswerable.
    grid = np.unique(np.concatenate([np.quantile(odds, np.linspace(0, 1, 201)), [threshold, 0.0]]))
    answered = answers(odds[None, :], grid[:, None])
    em_curve = 100 * np.where(answered, ex, ~h).mean(axis=1)
    f1_curve = 100 * np.where(answered, f, ~h).mean(axis=1)
    pred_na = ~answered | text_empty[None, :]
    tp = (pred_na & ~h).sum(axis=1)
    precision = np.divide(tp, pred_na.sum(axis=1), out=np.ones(len(grid)), where=pred_na.sum(axis=1) > 0)
    recall = tp / max((~h).sum(), 1)

    ans = answers(odds, threshold) & ~text_empty
    kind = np.full(len(ids), "wrong span", dtype=object)  # later assignments win
    kind[h & (f > 0)] = "partial overlap"
    kind[h & (ex == 1)] = "correct"
    kind[h & ~ans] = "no answer when answerable"
    kind[~h & ans] = "answered when no answer"
    kind[~h & ~ans] = "correct"
    counts = {k: int((kind == k).sum()) for k in ERROR_KINDS}

    examples = {e.id: e for e in sq.examples}

    def row(i):
        e = examples[ids[i]]
        return {"id": e.id, "question": e.question, "gold": [a.text for a in e.answers] or [""],
                "prediction": best_text[ids[i]] if ans[i] else "", "f1": float(f[i]) if ans[i] else float(not h[i]),
                "null_odds": float(odds[i]), "kind": str(kind[i])}

    # Worst = most confidently wrong: answerable ones by lowest F1, then by how sure the model was of its choice.
    bad_has = [i for i in np.lexsort((-np.abs(odds - threshold), np.where(ans, f, 0.0))) if h[i] and kind[i] != "correct"][:10]
    bad_no = [i for i in np.argsort(odds) if not h[i] and ans[i]][:10]
    gold_len = [len(examples[q].answers[0].text.split()) for q in ids if examples[q].answers]
    pred_len = [len(best_text[q].split()) for q, a in zip(ids, ans) if a]
    return {"threshold": threshold, "grid": grid, "em": em_curve, "f1": f1_curve, "precision": precision, "recall": recall,
            "counts": counts, "total": len(ids), "worst_answerable": [row(i) for i in bad_has],
            "worst_unanswerable": [row(i) for i in bad_no], "gold_len": gold_len, "pred_len": pred_len}


# ---------------------------------------------------------------- plots


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


FIGSIZE = (7.5, 4.2)  # inches at the PNG's dpi: readable labels in the HTML page and on GitHub


def plots(run: Run) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    whole = MaxNLocator(integer=True)  # steps, epochs and word counts are whole numbers: no tick at 1.25

    out = {}
    fig, ax = plt.subplots(figsize=FIGSIZE)
    if run.steps:
        s, loss = zip(*run.steps)
        ax.plot(s, loss, lw=0.8)
    ax.set(title="training loss per step", xlabel="optimizer step", ylabel="loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    out["train_loss"] = _png(fig)

    fig, ax = plt.subplots(figsize=FIGSIZE)
    ep = [r["epoch"] for r in run.metrics]
    # EM often equals F1 (short answers): EM is drawn dashed, wider and on top, so neither hides the other
    for key, label, style in (("f1", "F1 (threshold 0)", dict(marker="o", lw=1.2)),
                              ("best_f1", "F1 (tuned threshold)", dict(marker="^", lw=1.2)),
                              ("exact", "EM (threshold 0)", dict(marker="s", ls="--", lw=2.2, mfc="none", zorder=3))):
        ax.plot(ep, [r[key] for r in run.metrics], label=label, **style)
    ax.set(title="dev EM / F1 per evaluation", xlabel="epoch", ylabel="score")
    if all(float(e).is_integer() for e in ep):  # evaluations at epoch ends: whole-number ticks
        ax.xaxis.set_major_locator(whole)
    ax.legend(fontsize=8)
    out["scores"] = _png(fig)

    a = run.analysis
    if a:
        fig, ax = plt.subplots(figsize=FIGSIZE)
        ax.plot(a["grid"], a["f1"], label="F1", lw=1.2)
        ax.plot(a["grid"], a["em"], label="EM", ls="--", lw=2.2, zorder=3)  # on top: EM often equals F1
        ax.axvline(a["threshold"], color="gray", ls="--", lw=0.8, label=f"saved threshold {a['threshold']:.2f}")
        ax.set(title="EM / F1 against the no-answer threshold", xlabel="threshold on null odds", ylabel="score")
        ax.legend(fontsize=8)
        out["threshold"] = _png(fig)

        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        ax.plot(a["recall"], a["precision"])
        ax.set(title="no-answer detection", xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02))
        out["no_answer_pr"] = _png(fig)

        fig, ax = plt.subplots(figsize=FIGSIZE)
        top = max([*a["gold_len"], *a["pred_len"], 1])
        bins = np.arange(0, min(top, 40) + 2) - 0.5
        ax.hist([np.minimum(a["gold_len"], 40), np.minimum(a["pred_len"], 40)], bins=bins, label=["gold", "predicted"])
        ax.set(title="answer length (words; 40 = 40 or more)", xlabel="words", ylabel="answers", xlim=(-0.5, None))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
        out["answer_length"] = _png(fig)

    held = (run.calibration or {}).get("held_out") or {}
    if held.get("reliability_after"):
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        ax.plot([0, 1], [0, 1], color="gray", ls=":", lw=0.8, label="perfectly calibrated")
        for key, label, style in (("reliability_before", f"n-best probability (ECE {held['ece_before']:.3f})", dict(marker="s", ls="--")),
                                  ("reliability_after", f"p_correct (ECE {held['ece_after']:.3f})", dict(marker="o"))):
            bins = held.get(key) or []
            ax.plot([b["confidence"] for b in bins], [b["exact"] for b in bins], label=label, **style)
        ax.set(title=f"reliability on {held['questions']:,} held-out dev questions", xlabel="confidence", ylabel="exact-match rate",
               xlim=(0, 1.02), ylim=(0, 1.02))
        ax.legend(fontsize=8)
        out["reliability"] = _png(fig)
    return out


# ---------------------------------------------------------------- rendering


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    return "" if v is None else str(v)


def epoch_table(run: Run) -> tuple[list[str], list[list[str]]]:
    cols = [("epoch", "epoch"), ("step", "step"), ("train_loss", "train loss"), ("eval_loss", "eval loss"), ("exact", "EM"), ("f1", "F1"),
            ("HasAns_exact", "HasAns EM"), ("HasAns_f1", "HasAns F1"), ("NoAns_exact", "NoAns EM"), ("NoAns_f1", "NoAns F1"),
            ("best_exact", "best EM"), ("best_f1", "best F1"), ("best_f1_thresh", "best F1 at null odds (official search)"), ("train_windows_per_s", "windows/s")]
    return [c[1] for c in cols], [[_fmt(r.get(k)) for k, _ in cols] for r in run.metrics]


def summary(run: Run) -> dict:
    best = max(run.metrics, key=lambda r: r["best_f1"])
    secs = sum(s["seconds"] for s in run.info.get("sessions", []))
    rates = [r["train_windows_per_s"] for r in run.metrics if r.get("train_windows_per_s")]
    return {"run": run.name, "model": run.config.get("model", run.info.get("model", "?")), "init": run.config.get("init", ""),
            "epochs": run.config.get("epochs", ""), "best epoch": best["epoch"], "EM (0)": best["exact"], "F1 (0)": best["f1"],
            "best EM": best["best_exact"], "best F1": best["best_f1"], "threshold": best["best_f1_thresh"],
            "windows/s": rates[-1] if rates else None, "wall time (s)": round(secs, 1) if secs else None}


def published_rows(run: Run) -> list[list[str]]:
    s = summary(run)
    model = os.path.basename(str(s["model"]).rstrip("/"))
    # best/ answers with a threshold between the official search's value (a dev question's null odds) and the next
    # question's: the same dev answers, with a margin. Say which is which, once.
    saved = run.analysis["threshold"] if run.analysis else None
    tuned = (f"threshold tuned on dev: best/ answers with {_fmt(saved)} (the official search reports {_fmt(s['threshold'])}; same dev answers)"
             if saved is not None and abs(saved - s["threshold"]) > 5e-3 else f"threshold tuned on dev ({_fmt(s['threshold'])})")
    rows = [[f"this run ({s['run']})", "threshold 0", _fmt(s["EM (0)"]), _fmt(s["F1 (0)"])],
            [f"this run ({s['run']})", tuned, _fmt(s["best EM"]), _fmt(s["best F1"])]]
    for source, thr, em, f1 in PUBLISHED.get(model, []):
        rows.append([source, thr, f"{em:.2f}", f"{f1:.2f}"])
    return rows


def md_text(value) -> str:
    """Text for Markdown: HTML in dataset text (`<img src=x onerror=...>`) is shown, never run, as in the HTML
    report; a line break would end a table row."""
    return html.escape(str(value), quote=False).replace("\n", " ")


def build(runs: list[Run], image_prefix: str = "") -> tuple[str, str, dict[str, bytes]]:
    """(html, markdown, {image file name: png}) for these runs; image names start with `image_prefix`."""
    H, M, images = [], [], {}

    def table(head, rows):
        H.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" +
                 "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows) + "</table>")
        M.append("| " + " | ".join(map(md_text, head)) + " |\n|" + "---|" * len(head) + "\n" +
                 "\n".join("| " + " | ".join(md_text(c).replace("|", "\\|") for c in r) + " |" for r in rows) + "\n")

    def heading(level, text):
        H.append(f"<h{level}>{html.escape(text)}</h{level}>")
        M.append("#" * level + " " + md_text(text) + "\n")

    def para(text):
        H.append(f"<p>{html.escape(text)}</p>")
        M.append(md_text(text) + "\n")

    heading(1, "albert-bench report")
    if len(runs) > 1:
        heading(2, "Leaderboard")
        rows = sorted((summary(r) for r in runs), key=lambda s: -s["best F1"])
        table(list(rows[0]), [[_fmt(v) for v in s.values()] for s in rows])
    for number, run in enumerate(runs, 1):
        heading(2, f"Run {run.name}")
        s = summary(run)
        info = run.info
        facts = [["model", f"{s['model']} ({info.get('model_type', '')}; init {s['init'] or 'pretrained'})"],
                 ["train file", f"{info.get('train_file', run.config.get('train_file'))}  sha256 {info.get('train_sha256', '?')}"],
                 ["dev file", f"{info.get('dev_file', run.config.get('dev_file'))}  sha256 {info.get('dev_sha256', '?')}"],
                 ["hardware", f"{info.get('hardware', '?')}; {info.get('num_processes', 1)} process(es), mixed precision {info.get('mixed_precision', '?')}"],
                 ["wall time", f"{_fmt(s['wall time (s)'])} s over {len(info.get('sessions', []))} session(s)"],
                 ["training speed", f"{_fmt(s['windows/s'])} windows/s (last evaluation interval)"]]
        table(["fact", "value"], facts)
        for n in run.notes:
            para(n)
        if run.config.get("init") == "random":
            para("This run started from random weights: its scores say nothing about the pretrained model.")
        heading(3, "Per evaluation")
        table(*epoch_table(run))
        heading(3, "Against published SQuAD 2.0 dev results")
        rows = published_rows(run)
        if len(rows) == 2:
            para(f"No published SQuAD 2.0 dev result is on file for {s['model']}.")
        table(["source", "no-answer threshold", "EM", "F1"], rows)
        for key, png in plots(run).items():
            # The report's name and the run's number in it: two Markdown reports in one folder, or two runs that
            # share a folder name, never overwrite each other's plots.
            fname = f"{image_prefix}{number}-{run.name}-{key}.png"
            images[fname] = png
            H.append(f'<figure><img alt="{html.escape(key)}" src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>')
            M.append(f"![{key}]({fname})\n")
        a = run.analysis
        if a:
            heading(3, f"Errors at the saved threshold ({a['threshold']:.3f}), {a['total']} questions")
            table(["kind", "questions", "share"], [[k, v, f"{100 * v / a['total']:.1f}%"] for k, v in a["counts"].items()])
            for title, key in (("Worst answerable questions", "worst_answerable"), ("Unanswerable questions answered most confidently", "worst_unanswerable")):
                heading(4, title)
                if not a[key]:
                    para("None at the saved threshold.")
                    continue
                table(["id", "question", "gold", "prediction", "F1", "null odds", "kind"],
                      [[r["id"], r["question"], " / ".join(r["gold"][:3]), r["prediction"] or "(no answer)", f"{r['f1']:.2f}", f"{r['null_odds']:.2f}", r["kind"]]
                       for r in a[key]])
        heading(3, "Resolved configuration")
        H.append(f"<pre>{html.escape(json.dumps(run.config, indent=1))}</pre>")
        M.append("```json\n" + json.dumps(run.config, indent=1) + "\n```\n")
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:.6em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}"
             "th{background:#f3f3f3}img{max-width:100%}pre{background:#f7f7f7;padding:.6em;font-size:12px;overflow:auto}")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>albert-bench report</title><style>{style}</style></head><body>{''.join(H)}</body></html>"
    return page, "\n".join(M), images


def report_paths(out: str) -> tuple[str | None, str | None]:
    """(HTML path, Markdown path) that `--out` asks for: `.html` the page, `.md` the Markdown (its PNGs beside it),
    a directory both inside. Checked before any work; anything else is one line."""
    then = "write the report to another folder"
    if os.path.isdir(out) or out.endswith(("/", os.sep)) or not os.path.splitext(out)[1]:  # no extension: a folder
        check_output(out, "--out", "dir")
        check_not_in_model(out, "--out", "dir", then=then)
        check_ours(out, "--out", ("report.html", "report.md"))  # a folder's own report.md is never replaced
        return os.path.join(out, "report.html"), os.path.join(out, "report.md")
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".html", ".htm", ".md"):
        raise BenchError(f"--out {out}: ends neither in .html (the page) nor .md (Markdown), and is not a directory (both inside)")
    check_output(out, "--out", "file")
    check_not_in_model(out, "--out", "file", then=then)  # e.g. best/README.md: the model card `push` uploads
    return (None, out) if ext == ".md" else (out, None)


def write_report(run_dirs: list[str], out: str, dev_file: str | None = None) -> list[str]:
    """Write the report where `--out` says (see `report_paths`); the paths written, HTML first."""
    page_path, md_path = report_paths(out)
    hold(out, "report", "--out")  # one writer per output
    runs = [load_run(d, dev_file) for d in run_dirs]
    names = [r.name for r in runs]
    for i, r in enumerate(runs):  # headings tell apart runs whose folders share a name
        if names.count(r.name) > 1:
            r.name = f"{r.name}-{i}"
    page, md, images = build(runs, image_prefix=os.path.splitext(os.path.basename(md_path))[0] + "-" if md_path else "")
    written = []
    # Each file through files.atomic_write: a kill or a full disk mid-write keeps the earlier report's file whole.
    if page_path:
        os.makedirs(os.path.dirname(os.path.abspath(page_path)), exist_ok=True)
        with atomic_write(page_path, what="the report") as fh:
            fh.write(page)
        written.append(page_path)
    if md_path:
        folder = os.path.dirname(os.path.abspath(md_path))
        os.makedirs(folder, exist_ok=True)
        for name, png in images.items():  # the plots first: a Markdown file never points at a plot not yet written
            with atomic_write(os.path.join(folder, name), "wb", what="a plot of the report") as fh:
                fh.write(png)
        with atomic_write(md_path, what="the report") as fh:
            fh.write(md)
        written.append(md_path)
    if page_path and md_path:  # the folder form: name what it wrote there
        claim(out, [os.path.basename(p) for p in written] + list(images))
    return written
