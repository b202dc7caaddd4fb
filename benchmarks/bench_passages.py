"""One question over many passages (issue 27): each dev question answered over its own paragraph plus up to 9 other
paragraphs of the same article (as a retriever's top 10 would hand them over), against the same model on its own
paragraph alone. EM/F1 with the official metric at the model's saved threshold; a good reader loses little.

    .venv/bin/python benchmarks/bench_passages.py --model RUN/best --data DEV.json [--others 9] [--questions 0]

The distractors are the paragraphs that follow the question's own in its article (wrapping around), in a fixed
order, with the question's own paragraph at a fixed position among them, so a rerun gives the same figures.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine, write_section  # noqa: E402

from albert_bench.data import load_squad, only_questions
from albert_bench.metric import squad_v2_evaluate
from albert_bench.qa import QuestionAnswerer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--others", type=int, default=9, help="distractor paragraphs per question (fewer when the article has fewer)")
    ap.add_argument("--questions", type=int, default=0, help="the first N questions (0: all)")
    ap.add_argument("--label", default="", help="how RESULTS.md names the model (default: its folder's name)")
    ap.add_argument("--note", default="", help="a paragraph RESULTS.md adds under the table (what the data or the model is)")
    args = ap.parse_args()
    sq = load_squad(args.data)
    examples = sq.examples[: args.questions or None]
    qa = QuestionAnswerer.from_pretrained(args.model)
    paragraphs: dict[int, list[str]] = {}
    for i, a in enumerate(sq.data):
        paragraphs[i] = [p["context"] for p in a["paragraphs"]]
    single = {ex.id: r["answer"] for ex, r in zip(examples, qa.answer_batch([(ex.question, ex.context) for ex in examples], top_k=1))}
    many, moved, sizes = {}, 0, []
    for n, ex in enumerate(examples):
        own = paragraphs[ex.article_index]
        k = ex.paragraph_index
        others = [own[(k + j) % len(own)] for j in range(1, min(args.others, len(own) - 1) + 1)]
        at = n % (len(others) + 1)  # the question's own paragraph at a varying, fixed place
        contexts = others[:at] + [ex.context] + others[at:]
        sizes.append(len(contexts))
        res = qa.answer_passages(ex.question, contexts, top_k=1)
        many[ex.id] = res["answer"]
        moved += res["passage"] is not None and res["passage"] != at
        if n % 200 == 0:
            print(f"{n}/{len(examples)}", flush=True)
    ids = {ex.id for ex in examples}
    data = only_questions(sq.data, ids)
    m1 = squad_v2_evaluate(data, single)
    mn = squad_v2_evaluate(data, many)
    body = ["## One question over many passages (`bench_passages.py`, issue 27)", "",
            f"Model `{args.label or os.path.basename(os.path.normpath(args.model))}`, {len(examples):,} questions of `{os.path.basename(args.data)}`, "
            f"each over its own paragraph and up to {args.others} others of its article (mean {sum(sizes) / len(sizes):.1f} passages), "
            "at the model's saved threshold.", "",
            "| passages | EM | F1 | HasAns F1 | NoAns F1 |", "|---|---|---|---|---|",
            f"| its own paragraph | {m1['exact']:.2f} | {m1['f1']:.2f} | {m1.get('HasAns_f1', float('nan')):.2f} | {m1.get('NoAns_f1', float('nan')):.2f} |",
            f"| own + others | {mn['exact']:.2f} | {mn['f1']:.2f} | {mn.get('HasAns_f1', float('nan')):.2f} | {mn.get('NoAns_f1', float('nan')):.2f} |", "",
            f"Answers taken from another paragraph than the question's own: {moved:,} of {len(examples):,}.", "",
            "The gold answers are those of the question's own paragraph: an answer another paragraph really holds counts as wrong."]
    if args.note:
        body += ["", args.note]
    print("\n".join(body))
    write_section("passages", "\n".join(body), where=machine())


if __name__ == "__main__":
    main()
