"""`albert-bench` command line: one subcommand per stage. Input problems exit 2 with one line, no traceback."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

from .errors import BenchError
from .files import MAX_TEXT_BYTES, blank, check_data_output, check_not_input, check_ours, claim, hold, json_text, lone_surrogate, read_json, read_text, write_outputs


def _print_json(obj) -> None:
    print(json_text(obj, indent=2, where="the output"))


# ---------------------------------------------------------------- data


def cmd_data_stats(args) -> int:
    from .data import stats

    sq = _data(args)
    tok = None
    if args.tokenizer:
        from .model import load_tokenizer

        tok = load_tokenizer(args.tokenizer)
    st = stats(sq, tok)
    if args.json:
        _print_json(st)
        return 0
    print(f"{st['file']}  (SQuAD {st['version'] or '?'})")
    for k in ("articles", "paragraphs", "questions", "answerable", "unanswerable", "answers", "repaired_offsets", "unfound_answers"):
        print(f"  {k.replace('_', ' '):<18} {st[k]:>8,}")
    for unit in ("chars", "tokens"):
        for k, p in st.get(unit, {}).items():
            print(f"  {k} {unit:<7} " + "  ".join(f"{n} {v:,.0f}" for n, v in p.items()))
    for u in st["unfound_examples"]:
        print(f"  unfound answer: {u['id']}: {u['text']!r}", file=sys.stderr)
    return 0


def cmd_data_show(args) -> int:
    from .data import find_example, render_example

    sq = _data(args)
    ex = find_example(sq, id=args.id, index=args.index)
    print(render_example(ex, color=sys.stdout.isatty()))
    return 0


def cmd_data_check(args) -> int:
    from .decode import oracle_check
    from .features import FeatureConfig
    from .model import load_tokenizer

    sq = _data(args)
    tok = load_tokenizer(args.tokenizer)
    fcfg = FeatureConfig(args.max_seq_length, args.doc_stride, args.max_query_length)
    res = oracle_check(sq.examples, tok, fcfg, sq.data)
    res.update(file=sq.path, tokenizer=args.tokenizer, max_seq_length=fcfg.max_seq_length, doc_stride=fcfg.doc_stride)
    if args.json:
        _print_json(res)
        return 0
    rt, o = res["round_trip"], res["oracle"]
    print(f"{sq.path}: {len(sq.examples):,} questions → {res['windows']:,} windows ({fcfg.max_seq_length}/{fcfg.doc_stride})")
    print(f"  label round trip: {rt['exact_text']:.3f}% of {rt['answerable']:,} answerable read back as a gold answer exactly "
          f"({rt['normalized_text']:.3f}% after normalisation); {rt['answerable'] - rt['labelled']} without a labelled window")
    print(f"  oracle ceiling:   {o['exact']:.3f} EM  {o['f1']:.3f} F1  (HasAns EM {o['HasAns_exact']:.3f}, NoAns EM {o['NoAns_exact']:.3f})")
    return 0


SPLIT_OUTPUTS = ("train.json", "dev.json")  # of `data split` and `data synth`


def cmd_data_split(args) -> int:
    from .data import split_by_article

    check_data_output(args.out, "--out")
    outputs = [os.path.join(args.out, n) for n in SPLIT_OUTPUTS]
    for o in outputs:  # where the files go, before reading anything
        check_not_input(o, "--out", {"FILE": args.file})
        check_data_output(o, "--out", "file")
    check_ours(args.out, "--out", SPLIT_OUTPUTS)
    hold(args.out, "data split", "--out")  # one writer per output
    sq = _data(args)
    if len(sq.data) < 2:
        raise BenchError(f"{args.file or args.dataset}: {len(sq.data)} article(s); a split by article needs at least 2 "
                         "(train.json gets the even-indexed articles, dev.json the odd-indexed)")
    even, odd = split_by_article(sq)
    # One set: a stop while writing must not leave a new train.json beside an old dev.json (they could overlap).
    write_outputs(args.out, "--out", dict(zip(SPLIT_OUTPUTS, (even, odd))))
    for name, part in (("train.json", even), ("dev.json", odd)):
        n = sum(len(p["qas"]) for a in part["data"] for p in a["paragraphs"])
        print(f"{os.path.join(args.out, name)}: {len(part['data'])} articles, {n:,} questions")
    return 0


def cmd_data_convert(args) -> int:
    from .data import output_format, write_data

    output_format(args.out)
    check_data_output(args.out, "--out", kind="file")
    check_not_input(args.out, "--out", {"FILE": args.file})
    hold(args.out, "data convert", "--out")  # one writer per output
    sq = _data(args)
    n = write_data(sq, args.out)
    print(f"{args.out}: {n:,} questions ({len(sq.data):,} articles) from {sq.path}")
    return 0


def _data(args, flag: str = "FILE", need_questions: bool = False):
    """The data a command reads: FILE (path or URL; SQuAD JSON or rows) or --dataset NAME[:CONFIG][:SPLIT]."""
    from .data import load_data

    return load_data(args.file, args.dataset, flag, need_questions)


DATA_HELP = "data file (path or URL): SQuAD JSON, or datasets-style rows as .jsonl, .json or .parquet (told from the content)"
DATASET_HELP = "instead of a file: a dataset loaded with the `datasets` library (hub name, cached, or a local folder); SPLIT defaults to validation"


def _data_args(p, flag: str | None = None, metavar: str = "FILE") -> None:
    if flag:
        p.add_argument(flag, dest="file", metavar=metavar, help=DATA_HELP)
    else:
        p.add_argument("file", metavar=metavar, nargs="?", help=DATA_HELP)
    p.add_argument("--dataset", metavar="NAME[:CONFIG][:SPLIT]", help=DATASET_HELP)


def cmd_data_synth(args) -> int:
    from .errors import all_problems
    from .synthetic import SynthSizes, make_synthetic, tiny_albert_dir

    tiny = ("tiny-albert",) if args.tiny_model else ()

    def tokenizer_dir() -> None:  # before anything is written
        if args.tiny_model and not os.path.isfile(os.path.join(args.tiny_model, "tokenizer_config.json")):
            raise BenchError(f"--tiny-model {args.tiny_model}: no tokenizer_config.json there; pass a tokenizer directory "
                             "(e.g. ../shared/data/albert-base-v2)")

    all_problems(lambda: check_data_output(args.out, "--out"), lambda: check_ours(args.out, "--out", SPLIT_OUTPUTS + tiny),
                 lambda: SynthSizes(args.train, args.dev, args.seed), tokenizer_dir)
    hold(args.out, "data synth", "--out")  # one writer per output
    train, dev = make_synthetic(args.train, args.dev, args.seed)
    write_outputs(args.out, "--out", dict(zip(SPLIT_OUTPUTS, (train, dev))))
    print(f"{args.out}/train.json, {args.out}/dev.json")
    if args.tiny_model:
        tiny_albert_dir(os.path.join(args.out, "tiny-albert"), args.tiny_model)
        claim(args.out, tiny)
        print(f"{args.out}/tiny-albert (config + tokenizer, no weights: train with --init random)")
    return 0


# ---------------------------------------------------------------- train / evaluate / ask


def cmd_train(args) -> int:
    from .train import run

    return run({k: v for k, v in vars(args).items() if k not in ("func", "command", "verbose")})


def cmd_evaluate(args) -> int:
    from .qa import evaluate_dir

    m = evaluate_dir(args.model, args.file, args.out, args.batch_size, backend=args.backend, precision=args.precision, dataset=args.dataset)
    if m:  # under `accelerate launch`, process 0 alone has the metrics
        _print_json(m)
    return 0


def cmd_calibrate(args) -> int:
    from .qa import calibrate_dir

    cal = calibrate_dir(args.model, args.file, args.dataset, args.batch_size, args.backend, args.precision, log=lambda m: print(m, file=sys.stderr))
    _print_json({k: v for k, v in cal.held_out.items() if not k.startswith("reliability")})
    return 0


def cmd_check_precision(args) -> int:
    from .qa import check_precision_dir

    check = check_precision_dir(args.model, args.file, args.dataset, args.batch_size, log=lambda m: print(m, file=sys.stderr))
    _print_json(check)
    return 0 if check["passed"] else 1


def cmd_ask(args) -> int:
    from .errors import all_problems
    from .onnx_backend import accuracy_line
    from .qa import AnswerSettings, QuestionAnswerer, check_model_dir

    def passages() -> list[str]:
        """The passage (--context), or the passages of --context-file: one per file, or a JSON list of strings."""
        if not args.context_file:
            _words("--context", args.context, "the passage that may hold the answer")
            return [args.context]
        texts = []
        for f in args.context_file:
            text = read_text(f, "a UTF-8 text file holding a passage (or a JSON list of passages) with --context-file", max_bytes=MAX_TEXT_BYTES)
            if f.lower().endswith(".json"):  # ps.JSON too: never its JSON source read as a passage
                from .files import parse_json

                try:
                    listed = parse_json(text)
                except BenchError as e:
                    raise BenchError(f"{f}: {e}") from None
                if not isinstance(listed, list) or not listed or not all(isinstance(t, str) for t in listed):
                    raise BenchError(f"{f}: expected a JSON list of passages (strings), e.g. [\"first passage\", \"second\"]; "
                                     "or pass a plain text file per passage")
                texts += [(f"{f} item {i}", t) for i, t in enumerate(listed)]
            else:
                texts.append((f, text))
        for where, text in texts:
            _words(where, text, "the passage that may hold the answer")
        return [t for _, t in texts]

    # every input before loading the model, every problem at once
    contexts, _, _, _ = all_problems(passages, lambda: _words("--question", args.question, "a question in words"),
                                    lambda: check_model_dir(args.model, args.backend), lambda: AnswerSettings(args.backend, args.precision, args.top_k))
    qa = QuestionAnswerer.from_pretrained(args.model, backend=args.backend, precision=args.precision)
    if qa.backend == "onnx" and (line := accuracy_line(qa.model.info)):
        print(line, file=sys.stderr)
    many = len(contexts) > 1  # one answer over all passages, each candidate naming its passage
    res = qa.answer_passages(args.question, contexts, top_k=args.top_k) if many else qa.answer(args.question, contexts[0], top_k=args.top_k)
    at = lambda c: f"passage {c['passage']}, " if many else ""  # noqa: E731
    if args.json:
        _print_json(res)
    else:
        chance = "" if res["p_correct"] is None else f"; p_correct {res['p_correct']:.2f}"  # calibrated models only
        if res["no_answer"]:
            print(f"no answer (no-answer score {res['no_answer_score']:.3f}; null odds {res['null_odds']:.3f} > threshold {res['threshold']:.3f}{chance})")
        else:
            print(f"{res['answer']}\t({at(res)}chars {res['start']}-{res['end']}, score {res['score']:.3f}{chance})")
        # the other candidates: after the answer, or all --top-k of them when the passage holds no answer
        others = res["alternatives"] if res["no_answer"] else res["alternatives"][1:]
        if others:
            print("candidates:" if res["no_answer"] else "other candidates:")
        for alt in others:
            print(f"  {alt['text']}\t({at(alt)}chars {alt['start']}-{alt['end']}, score {alt['score']:.3f})")
    return 0


def cmd_predict(args) -> int:
    from .predict import run

    c = run(args.model, args.input, args.output, args.dataset, args.top_k, args.chunk_rows, args.batch_size, args.backend, args.precision)
    if os.environ.get("RANK", "0") == "0":  # one summary, from process 0
        print(f"{c['output']}: {c['answered']:,} answered, {c['skipped']:,} already there, {c['errors']:,} with an error"
              + (f" ({c.get('processes')} processes)" if c.get("processes") else ""), file=sys.stderr)
        if c["errors"] + c["errors_before"]:
            print(f"error: {c['errors'] + c['errors_before']:,} row(s) could not be answered; their lines hold \"error\" "
                  f"(grep '\"error\"' {c['output']})", file=sys.stderr)
    return 1 if c["errors"] + c["errors_before"] else 0


def cmd_push(args) -> int:
    from .card import push

    url = push(args.model, args.repo_id, private=args.private)
    print(f"pushed {args.model} to {url}")
    return 0


def cmd_card(args) -> int:
    from .card import write_card

    print(write_card(args.run))
    return 0


def _words(name: str, text: str, want: str) -> None:
    if (at := lone_surrogate(text)) is not None:  # what Python makes of bytes on the command line that are not UTF-8
        raise BenchError(f"{name}: not valid UTF-8 text (at character {at}); pass UTF-8 text")
    if blank(text):
        raise BenchError(f"{name} is empty; pass {want}")


def cmd_report(args) -> int:
    from .report import write_report

    for d in args.runs:
        if not os.path.isdir(d):
            raise BenchError(f"{d}: no such run directory; pass folders written by `albert-bench train`")
    print("\n".join(write_report(args.runs, args.out, args.dev_file)))
    return 0


def cmd_serve(args) -> int:
    from dataclasses import fields

    from .errors import all_problems
    from .qa import AnswerSettings, check_model_dir
    from .serve import ServeLimits, bind, host_name, serve

    def allowed() -> list[str] | None:
        hosts = [h.strip() for h in args.allowed_hosts.split(",") if h.strip()] if args.allowed_hosts else None
        if bad := [h for h in hosts or () if h != "*" and host_name(h) is None]:
            raise BenchError(f"--allowed-hosts: {', '.join(bad)} is not a host name; pass names such as example.com or [::1]")
        return hosts

    # every input before loading the model, every problem at once
    limits, hosts, _, _ = all_problems(lambda: ServeLimits(**{f.name: getattr(args, f.name) for f in fields(ServeLimits)}),
                                       allowed, lambda: check_model_dir(args.model, args.backend), lambda: AnswerSettings(args.backend, args.precision))
    sock = bind(args.host, args.port)  # the address too, before the model loads
    serve(args.model, args.host, args.port, limits, not args.no_micro_batching, backend=args.backend,
          precision=args.precision, allowed_hosts=hosts, sock=sock)
    return 0


def cmd_export(args) -> int:
    from .export import export_onnx

    if not args.onnx:
        raise BenchError("export: pass --onnx (the only export format so far)")
    export_onnx(args.model, args.out, int8=args.int8, opset=args.opset, log=lambda m: print(m, file=sys.stderr),
                data=args.data, max_f1_drop=args.max_f1_drop, int8_scales=args.int8_scales)
    print(args.out)
    return 0


# ---------------------------------------------------------------- score


def _id_map(path: str, what: str, kind, want: str) -> dict:
    """A JSON object {question id: value of `kind`}; the first wrong value is named by its id."""
    obj = read_json(path, what)
    if isinstance(obj, dict) and {"step", "best_text", "null_odds"} <= set(obj):
        raise BenchError(f"{path} is a training run's dev_predictions.json (the best span and null odds of each dev question at "
                         f"step {obj['step']}), not {what}; score a model with `albert-bench evaluate --model RUN/best --data DEV "
                         "--out DIR`, or pass DIR/predictions.json and --na-probs DIR/null_odds.json from such an evaluation")
    if not isinstance(obj, dict):
        raise BenchError(f"{path}: expected a JSON object {{question id: {want}}}, got {type(obj).__name__}; pass {what}")
    for qid, v in obj.items():
        if isinstance(v, bool) or not isinstance(v, kind):
            raise BenchError(f"{path}: the value for id {qid!r} is {json.dumps(v)[:40]}; expected {want}")
        if isinstance(v, str) and (at := lone_surrogate(v)) is not None:
            raise BenchError(f"{path}: the value for id {qid!r} holds a lone surrogate at character {at} (not valid Unicode)")
    return obj


def cmd_score(args) -> int:
    from .metric import missing_and_extra, squad_v2_evaluate

    if not math.isfinite(args.na_prob_thresh):
        raise BenchError(f"--na-prob-thresh {args.na_prob_thresh}: pass a finite number")
    sq = _data(args, "--data", need_questions=True)
    preds = _id_map(args.predictions, "predictions JSON ({id: answer text}) with --predictions", str, "answer text (a string, \"\" for no answer)")
    na = None
    if args.na_probs:
        na = _id_map(args.na_probs, "no-answer JSON ({id: number}) with --na-probs", (int, float), "a number")
    missing, extra = missing_and_extra(sq.data, preds)
    if missing or extra:
        print(f"warning: {len(missing)} question(s) of {sq.path} have no prediction (e.g. {missing[:1]}), "
              f"{len(extra)} prediction id(s) are not in it (e.g. {extra[:1]}); scoring the {len(preds) - len(extra)} that match, "
              "as the official script does", file=sys.stderr)
    _print_json(squad_v2_evaluate(sq.data, preds, na, args.na_prob_thresh))
    return 0


# ---------------------------------------------------------------- parser


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one line, like every other error of the command line (exit 2); the usage is
    one `--help` away."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from .export import ExportSettings
    from .qa import BF16_CHECK_QUESTIONS, BF16_MAX_F1_DROP, BF16_MIN_SAME_ANSWERS, AnswerSettings
    from .serve import ServeLimits
    from .settings import add_flags

    p = Parser(
        prog="albert-bench",
        description="Fine-tune and benchmark ALBERT (or any Hugging Face encoder) for extractive QA on SQuAD 2.0.",
    )
    from . import __version__

    p.add_argument("--version", action="version", version=f"albert-bench {__version__}")
    p.add_argument("--verbose", action="store_true", help="also show the libraries' own progress bars and messages (transformers, huggingface_hub)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="inspect, check and convert QA data files", description=(
        "Inspect, check and convert QA data: SQuAD v1.1/v2.0 JSON, datasets-style rows (JSON Lines, JSON, Parquet) or a "
        "dataset loaded with the `datasets` library (--dataset)."))
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    st = dsub.add_parser("stats", help="counts and length percentiles", description="Counts (articles, questions, answerable, ...) and length percentiles of a SQuAD file.")
    _data_args(st)
    st.add_argument("--tokenizer", metavar="DIR", help="also report token lengths with this tokenizer (directory or hub name)")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=cmd_data_stats)

    sh = dsub.add_parser("show", help="one example, answers marked in the context", description="Print one question with its context; gold answers are marked [[like this]].")
    _data_args(sh)
    g = sh.add_mutually_exclusive_group(required=True)
    g.add_argument("--id", help="question id")
    g.add_argument("--index", type=int, help="question position in the file (0-based)")
    sh.set_defaults(func=cmd_data_show)

    ck = dsub.add_parser("check", help="label round trip and oracle ceiling", description=(
        "Build training windows, check that every labelled span reads back as a gold answer, and score a perfect "
        "model (one that reproduces every label) through the real decoder and the official metric."))
    _data_args(ck)
    ck.add_argument("--tokenizer", metavar="DIR", required=True, help="tokenizer directory or hub name")
    _feature_flags(ck)
    ck.add_argument("--json", action="store_true", help="print JSON")
    ck.set_defaults(func=cmd_data_check)

    sp = dsub.add_parser("split", help="split by article parity into train/dev", description="Write OUT/train.json (even-indexed articles) and OUT/dev.json (odd-indexed): a held-out split by topic.")
    _data_args(sp)
    sp.add_argument("--out", required=True, metavar="DIR", help="directory for train.json and dev.json (created if missing)")
    sp.set_defaults(func=cmd_data_split)

    cv = dsub.add_parser("convert", help="convert between SQuAD JSON and datasets-style rows", description=(
        "Write the data in the layout OUT's suffix names: .json SQuAD JSON (nested articles), .jsonl JSON Lines rows, "
        ".parquet Parquet rows (one row per question: id, title, context, question, answers {text, answer_start}). "
        "SQuAD → rows → SQuAD gives back the same file."))
    _data_args(cv)
    cv.add_argument("--out", required=True, metavar="OUT", help="the file to write: OUT.json, OUT.jsonl or OUT.parquet")
    cv.set_defaults(func=cmd_data_convert)

    sy = dsub.add_parser("synth", help="synthetic SQuAD 2.0 data with known answers", description="Write OUT/train.json and OUT/dev.json: passages of simple facts, answerable and unanswerable questions.")
    sy.add_argument("--out", required=True, metavar="DIR", help="directory for train.json and dev.json (created if missing)")
    from .synthetic import SynthSizes

    add_flags(sy, SynthSizes)
    sy.add_argument("--tiny-model", metavar="TOKENIZER_DIR", help="also write OUT/tiny-albert: a tiny ALBERT config with this tokenizer")
    sy.set_defaults(func=cmd_data_synth)

    from .train import add_arguments

    tr = sub.add_parser("train", help="fine-tune and evaluate every epoch (the main job)", description=(
        "Fine-tune a question-answering model on SQuAD, evaluating on the dev file every epoch with the official "
        "SQuAD 2.0 metric. Writes the run directory: config, metrics.jsonl, TensorBoard events, checkpoints, and "
        "best/ (the best model by dev F1 with its tuned no-answer threshold). Runs on CPU, one GPU, or many with "
        "`accelerate launch -m albert_bench train ...`."))
    add_arguments(tr)
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="predict a SQuAD file and score it", description="Write OUT/predictions.json, null_odds.json, nbest.json and metrics.json for a SQuAD file.")
    ev.add_argument("--model", required=True, metavar="DIR", help="saved model directory (e.g. RUN/best)")
    _data_args(ev, "--data")
    ev.add_argument("--out", required=True, metavar="DIR", help="directory for the outputs (created if missing; checked before predicting)")
    add_flags(ev, AnswerSettings, only=("batch_size", "backend", "precision"))
    ev.set_defaults(func=cmd_evaluate)

    ca = sub.add_parser("calibrate", help="fit p_correct, the chance an answer is right, on a dev set", description=(
        "Answer a SQuAD 2.0 dev set, fit p_correct (the probability that the returned answer, a span or no answer, is an "
        "exact match) on its even-indexed paragraphs and measure it on the odd-indexed ones (expected calibration error "
        "before and after), and store the fit in the model's qa_config.json: `ask`, `predict`, the API and `serve` then "
        "return p_correct. `train` does this on its dev set for best/."))
    ca.add_argument("--model", required=True, metavar="DIR", help="saved model directory (e.g. RUN/best); its qa_config.json is updated")
    _data_args(ca, "--data")
    add_flags(ca, AnswerSettings, only=("batch_size", "backend", "precision"))
    ca.set_defaults(func=cmd_calibrate)

    cp = sub.add_parser("check-precision", help="check bf16 against fp32 on a dev set, for --precision auto", description=(
        "Answer (the first {n:,} questions of) a SQuAD 2.0 dev set in fp32 and in bf16 and store the comparison in the "
        "model's qa_config.json (`bf16_check`): `--precision auto` (the default of ask, evaluate, predict and serve) then "
        "answers in bf16 where the CPU or GPU computes it natively, if a share of at least {same:g} of the answers is unchanged and "
        "F1 drops by at most {drop:g}. `train` does this for best/ on such hardware. Exit status 1 when bf16 fails the check."
        ).format(n=BF16_CHECK_QUESTIONS, same=BF16_MIN_SAME_ANSWERS, drop=BF16_MAX_F1_DROP))
    cp.add_argument("--model", required=True, metavar="DIR", help="saved PyTorch model directory (e.g. RUN/best); its qa_config.json is updated")
    _data_args(cp, "--data")
    add_flags(cp, AnswerSettings, only=("batch_size",))
    cp.set_defaults(func=cmd_check_precision)

    ak = sub.add_parser("ask", help="answer a question about a passage", description="Answer a question about a passage: the answer with its character offsets in the passage, or an explicit 'no answer'.")
    ak.add_argument("--model", required=True, metavar="DIR", help="saved model directory (e.g. RUN/best), or an ONNX export")
    ak.add_argument("--question", required=True, metavar="Q", help="the question, in words")
    g = ak.add_mutually_exclusive_group(required=True)
    g.add_argument("--context", metavar="TEXT", help="the passage")
    g.add_argument("--context-file", metavar="F", nargs="+", help=(
        "a UTF-8 text file holding the passage; several files (or a .json file holding a list of passages) ask the "
        "question over all of them: one answer, each candidate naming its passage (0, 1, ...)"))
    ak.add_argument("--json", action="store_true", help="print JSON")
    add_flags(ak, AnswerSettings, only=("top_k", "backend", "precision"))
    ak.set_defaults(func=cmd_ask)

    pr = sub.add_parser("predict", help="answer a file of questions (any size) into JSON Lines", description=(
        "Answer every row (question, context, optional id; gold answers ignored) of a file or dataset into OUTPUT, one JSON "
        "line per row: id, row, answer, start, end, score, no_answer, alternatives. Streams in chunks (memory stays flat), "
        "shows progress, and resumes: run the same command again after an interruption and rows already written are "
        "skipped. Under `accelerate launch` each process answers a slice and process 0 merges them. A row that cannot "
        "be answered gets a line with \"error\" and the command exits 1."))
    pr.add_argument("--model", required=True, metavar="DIR", help="saved model directory (e.g. RUN/best), or an ONNX export")
    pr.add_argument("--input", metavar="FILE", help="rows with question and context: .jsonl, .json or .parquet (or a SQuAD JSON file)")
    pr.add_argument("--dataset", metavar="NAME[:CONFIG][:SPLIT]", help=DATASET_HELP)
    pr.add_argument("--output", required=True, metavar="OUT.jsonl", help="JSON Lines to write (appended to: rows already in it are skipped)")
    from .predict import CHUNK_ROWS

    pr.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help=f"rows answered and written together (default {CHUNK_ROWS}): what an interruption can cost")
    add_flags(pr, AnswerSettings)
    pr.set_defaults(func=cmd_predict)

    sv = sub.add_parser("serve", help="HTTP API and answer-highlighting web page", description=(
        "Serve a model: POST /v1/answer, POST /v1/answer:batch, GET /healthz, the web page at /, API docs at /docs "
        "(offline). Every limit is checked before any work; errors are {\"error\": \"<field>: <what>\"} (README: Serving)."))
    sv.add_argument("--model", required=True, metavar="DIR", help="saved model directory (e.g. RUN/best)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    add_flags(sv, ServeLimits)
    sv.add_argument("--allowed-hosts", metavar="H1,H2", help="Host header names the server answers, comma-separated, '*' for any (default: localhost, 127.0.0.1, ::1 when "
                    "bound to loopback; any host otherwise, with a warning); other hosts get 400")
    sv.add_argument("--no-micro-batching", action="store_true", help="answer requests one at a time")
    add_flags(sv, AnswerSettings, only=("backend", "precision"))
    sv.set_defaults(func=cmd_serve)

    ex = sub.add_parser("export", help="export a model to ONNX (optionally int8) for fast CPU answering", description=(
        "Write OUT/model.onnx with the tokenizer, config and qa_config.json beside it: a model directory for "
        "`ask`/`evaluate`/`serve --backend onnx`. --int8 quantizes the matrix multiplications' weights (dynamic "
        "quantization), about twice as fast again on CPU, at a small cost in agreement (see benchmarks/RESULTS.md)."))
    ex.add_argument("--model", required=True, metavar="DIR", help="saved model directory (e.g. RUN/best)")
    ex.add_argument("--onnx", action="store_true", help="export to ONNX (required)")
    ex.add_argument("--out", required=True, metavar="DIR", help="new directory for the exported model")
    add_flags(ex, ExportSettings)
    ex.set_defaults(func=cmd_export)

    pu = sub.add_parser("push", help="upload a model directory to the Hugging Face hub", description=(
        "Upload a model directory (e.g. RUN/best, with its model card README.md) to a hub model repository through "
        "huggingface_hub, creating the repository if needed. Needs a token (`hf auth login` or HF_TOKEN); every problem "
        "(offline, no token, not a model directory, no card) is one line before anything is sent."))
    pu.add_argument("--model", required=True, metavar="DIR", help="the model directory to upload (RUN/best)")
    pu.add_argument("--repo-id", required=True, metavar="NAME", help="the hub repository, user/name or org/name")
    pu.add_argument("--private", action="store_true", help="create the repository private")
    pu.set_defaults(func=cmd_push)

    cd = sub.add_parser("card", help="(re)write RUN/best/README.md, the model card", description=(
        "Write the model card of a run's best model: huggingface_hub metadata (task, dataset, EM/F1 at the tuned "
        "no-answer threshold and at 0, HasAns/NoAns), the training settings, data hashes and hardware. `train` writes it "
        "whenever best/ changes; this command writes it for runs made before."))
    cd.add_argument("run", metavar="RUN_DIR", help="a run directory written by `albert-bench train`")
    cd.set_defaults(func=cmd_card)

    rp = sub.add_parser("report", help="HTML/Markdown report of one or more runs", description=(
        "One self-contained HTML page (images embedded) and a Markdown twin: per-run facts, per-epoch table, plots, "
        "error analysis of the best model's dev predictions, published results for the same model; a leaderboard for several runs."))
    rp.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories written by `albert-bench train` (several: a leaderboard)")
    rp.add_argument("--out", default="report.html", help="what to write: FILE.html (one self-contained page), FILE.md (Markdown, its PNG plots beside it) or a DIRECTORY (both inside) (default report.html)")
    rp.add_argument("--dev-file", metavar="FILE", help="the dev file the runs used, if it has moved since")
    rp.set_defaults(func=cmd_report)

    sc = sub.add_parser("score", help="official SQuAD 2.0 metric", description="Score predictions exactly as the official SQuAD 2.0 evaluation script does; prints JSON.")
    _data_args(sc, "--data", "DEV.json")
    sc.add_argument("--predictions", required=True, metavar="P.json", help="JSON object {question id: answer text}, '' for no answer")
    sc.add_argument("--na-probs", metavar="N.json", help="JSON object {question id: no-answer score}; adds the best-threshold keys")
    sc.add_argument("--na-prob-thresh", type=float, default=1.0, help="predict no answer where the no-answer score exceeds this (default 1.0, as the official script)")
    sc.set_defaults(func=cmd_score)

    _no_prefix_matching(p)
    return p


def _no_prefix_matching(parser: argparse.ArgumentParser) -> None:
    """`--epoch 1` must not silently mean `--epochs 1`: a flag is spelled out or refused, on every (sub)command."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                _no_prefix_matching(sub)


def _feature_flags(p) -> None:
    from .features import FeatureConfig
    from .settings import add_flags

    add_flags(p, FeatureConfig, only=("max_seq_length", "doc_stride", "max_query_length"))


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.showwarning = _one_line_warning  # library code warns through `warnings`; a person reads one line each
    args = build_parser().parse_args(argv)
    if args.verbose:
        os.environ["ALBERT_BENCH_VERBOSE"] = "1"
    t0 = time.perf_counter()
    try:
        if args.command in ("ask", "evaluate", "calibrate", "check-precision", "serve", "export", "predict", "push"):
            from .rundir import answering_model

            args.model = answering_model(args.model, "pushing" if args.command == "push" else "answering with")  # a run directory stands for its best/
        elif args.command == "card":
            from .rundir import run_of

            args.run = run_of(args.run)  # RUN/best names its run
        return args.func(args)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted after {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        from .files import release_all

        release_all()  # the outputs this command held (one writer per output) are free for the next


if __name__ == "__main__":
    sys.exit(main())
