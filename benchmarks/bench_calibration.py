"""How well `p_correct` is calibrated (issue 27): expected calibration error before (the n-best probability of the
returned answer, or of "no answer", taken as its chance of being right) and after the fit, and the reliability
bins, on the half of the dev paragraphs the fit did not see.

    .venv/bin/python benchmarks/bench_calibration.py --model RUN/best [--model ...] [--data DEV.json] [--label NAME ...]

Without --data it reports the fit the model holds (`train` fits it on its dev set when it saves best/, on one half of
the paragraphs, and measures it on the other); with --data it first refits on that file with `albert-bench calibrate`,
on a copy of the model directory (the model itself is left as it is). Each model's row goes into one table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402


def held_out(model: str, data: str | None) -> dict:
    if data is None:
        cal = json.loads((Path(model) / "qa_config.json").read_text()).get("calibration")
        if not cal:
            raise SystemExit(f"{model}: no calibration in qa_config.json; pass --data DEV.json to fit one")
        return cal
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "model"
        shutil.copytree(model, copy)
        subprocess.run([sys.executable, "-m", "albert_bench", "calibrate", "--model", str(copy), "--data", data], check=True)
        return json.loads((copy / "qa_config.json").read_text())["calibration"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--label", action="append", default=[], help="how the table names each --model (default: its path)")
    ap.add_argument("--data", help="refit on this dev file first (on a copy of each model)")
    a = ap.parse_args()
    labels = a.label + a.model[len(a.label):]
    lines = ["## Calibrated answers: `p_correct` (`benchmarks/bench_calibration.py`, issue 27)", "",
             "`p_correct` is the probability that the returned answer (a span, or \"no answer\") is an exact match. Fitted on one half of "
             "the dev paragraphs (two 3-parameter logistic fits: spans and no-answer, on the margin from the threshold and the n-best "
             "probability), measured on the other half. \"Before\": the n-best probability of the returned answer taken as that chance.", "",
             "| model | fitted on | held-out questions | ECE before | ECE after | mean p_correct | exact-match rate |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    bins = []
    for label, model in zip(labels, a.model):
        cal = held_out(model, a.data)
        h = cal["held_out"]
        lines.append(f"| {label} | {cal['fitted_on']:,} | {h['questions']:,} | {h['ece_before']:.3f} | {h['ece_after']:.3f} | "
                     f"{h['mean_p_correct']:.3f} | {h['exact_rate']:.3f} |")
        bins.append((label, h))
    for label, h in bins:
        lines += ["", f"Reliability on the held-out half, {label} (questions, mean confidence → exact-match rate per bin):", "",
                  "| bin | before | after |", "|---|---|---|"]
        before = {(b["lo"], b["hi"]): b for b in h.get("reliability_before", [])}
        after = {(b["lo"], b["hi"]): b for b in h.get("reliability_after", [])}
        for lo, hi in sorted(set(before) | set(after)):
            cell = lambda b: f"{b['questions']:,}: {b['confidence']:.2f} → {b['exact']:.2f}" if b else "—"  # noqa: E731
            lines.append(f"| {lo:.1f}-{hi:.1f} | {cell(before.get((lo, hi)))} | {cell(after.get((lo, hi)))} |")
    body = "\n".join(lines)
    print(body)
    write_section("calibration", body)


if __name__ == "__main__":
    main()
