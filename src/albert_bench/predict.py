"""`albert-bench predict`: answer a file of questions, any size, into JSON Lines — streamed, resumable, sharded.

    albert-bench predict --model RUN/best --input questions.jsonl --output answers.jsonl
    accelerate launch --num_processes 2 -m albert_bench predict ...     # each process answers a slice

Rows need `question` and `context` (an `id` is optional: the row number stands in; gold answers are ignored); a
`context` that is a list of passages gets one answer over all of them, with `passage` and `locations`.
JSON Lines and Parquet are read a chunk at a time and every chunk's answers are appended and flushed before the
next, so memory stays flat whatever the input's size (benchmarks/bench_predict.py measures it) and an interrupted
run loses at most the chunk in flight: run the same command again and rows whose id is already written are
skipped; an output whose lines another model (or another --backend, --precision, --top-k) wrote is refused, so
one file never mixes two models' answers. A row that cannot be answered (no question, a lone surrogate, a repeated id) gets an `error` line of
its own — never a silent gap — and the command exits 1 after finishing the others.

Sharding: process r of w answers rows r, r + w, r + 2w, ... into OUTPUT.part-r-of-w; when all are done, process 0
merges the parts into OUTPUT in row order and removes them. Parts left by an interrupted sharded run (whatever
its process count) count as written and are merged by the next run.
"""

from __future__ import annotations

import glob
import hashlib
import heapq
import itertools
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

from .data import as_rows, parse_squad
from .decode import TOP_K
from .errors import BenchError
from .files import MAX_TEXT_BYTES, blank, check_not_input, check_output, hold, json_text, lone_surrogate, parse_json, read_json
from .formats import columns, count_rows, iter_rows, sniff
from .progress import bar as progress_bar

CHUNK_ROWS = 256  # rows answered and written together: bounds memory and what an interruption costs


@dataclass
class Row:
    n: int  # row number in the input, from 1
    id: str | int
    question: str = ""
    context: str | list[str] = ""  # a list: one question over several passages (`QuestionAnswerer.answer_passages`)
    error: str | None = None
    input_hash: str = ""  # of the row's question and context: a resumed run checks it is answering the same input


def _hash(raw: dict) -> str:
    text = json.dumps([raw.get("question"), raw.get("context")], ensure_ascii=True, default=str)  # ASCII: lone surrogates too
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _row(n: int, raw) -> Row:
    """A row's id, question and context, or the reason it cannot be answered (the row still gets a line)."""
    if not isinstance(raw, dict):
        return Row(n, n, error="row: expected an object with question and context", input_hash=_hash({"question": raw}))
    row = _checked(n, raw)
    row.input_hash = _hash(raw)
    return row


def _checked(n: int, raw: dict) -> Row:
    rid = raw.get("id", n)
    if isinstance(rid, bool) or not isinstance(rid, (str, int)):
        return Row(n, n, error=f"id: should be a string or an integer, got {json.dumps(rid, default=str)[:40]}")
    problems = []
    context = raw.get("context")
    passages = isinstance(context, list)
    if passages and not context:
        problems.append("context: an empty list; pass a passage, or a list of passages")
    for name, value in [("question", raw.get("question"))] + ([(f"context.{i}", v) for i, v in enumerate(context)] if passages else [("context", context)]):
        if not isinstance(value, str):
            problems.append(f"{name}: missing" if value is None else f"{name}: should be a string, got {json.dumps(value, default=str)[:40]}")
        elif (at := lone_surrogate(value)) is not None:
            problems.append(f"{name}: holds a lone surrogate at character {at} (not valid Unicode)")
        elif blank(value):
            problems.append(f"{name}: empty")
        elif len(value) > MAX_TEXT_BYTES:  # answered, it would take minutes and gigabytes: the row gets an error line
            problems.append(f"{name}: {len(value):,} characters, above the {MAX_TEXT_BYTES:,} allowed (ALBERT_BENCH_MAX_TEXT_BYTES); split it into passages")
    if problems:
        return Row(n, rid, error="; ".join(problems))
    return Row(n, rid, raw["question"], list(context) if passages else context)


def read_rows(input: str | None, dataset: str | None) -> tuple[Iterator[Row], int | None]:
    """(rows, how many or None) of a flat file (streamed), a SQuAD JSON file or a `--dataset` split. Only
    question, context and id are read: gold answers, right or wrong, are not this command's business."""
    if dataset:
        from .data import open_dataset

        ds = open_dataset(dataset, need=("question", "context"))
        return (_row(n, raw) for n, raw in enumerate(ds, 1)), len(ds)
    what = "questions to answer with --input: rows of question and context (.jsonl, .json, .parquet) or a SQuAD JSON file"
    fmt = sniff(input, what)
    if fmt == "json":
        doc = read_json(input, what)
        rows = as_rows(doc)
        if rows is None:  # SQuAD's nested articles
            rows = _squad_rows(doc, input)
        return (_row(n, r) for n, r in enumerate(rows, 1)), len(rows)
    names = columns(input, fmt)
    if names is not None and not {"question", "context"} <= set(names):
        raise BenchError(f"{input}: no {' or '.join(c for c in ('question', 'context') if c not in names)} column (it has {', '.join(names)}); "
                         "pass rows of question and context")
    return (_row(n, raw) for n, raw in iter_rows(input, fmt, what)), count_rows(input, fmt)


def _squad_rows(doc, path: str) -> list[dict]:
    """SQuAD's questions as rows of id, question, context; a file not shaped like SQuAD gets parse_squad's error."""
    try:
        return [{"id": qa.get("id"), "question": qa.get("question"), "context": p.get("context")}
                for a in doc["data"] for p in a["paragraphs"] for qa in p["qas"]]
    except (KeyError, TypeError, AttributeError):
        parse_squad(doc, path)  # names what is wrong, in one line
        raise


def part_path(output: str, rank: int, world: int) -> str:
    return f"{output}.part-{rank}-of-{world}"


def _parts(output: str) -> list[str]:
    return sorted(glob.glob(glob.escape(output) + ".part-*-of-*"))


_LINE_START = b'{"id": '  # how every answer line begins (`_line` puts the id first; json_text's separators)


def _written(path: str, repair: bool = False) -> Iterator[dict]:
    """The answer lines of an output (or part) file. A torn last line — what a kill during a write leaves — is
    not counted; with `repair` (one process only, before anyone appends) it is cut off the file with a warning,
    so that appending continues on a line boundary."""
    with open(path, "rb+" if repair else "rb") as f:
        good = 0
        for line in f:
            parsed = False
            try:
                rec = parse_json(line)
                parsed = True
                if not isinstance(rec, dict) or "id" not in rec or "row" not in rec:
                    raise BenchError("not an answer line of `predict`")
            except BenchError as e:
                # A torn line is the start of an answer line (each begins `{"id": `) that does not parse: anything
                # else, even one complete object without a newline, is a file `predict` did not write, never cut.
                torn = not parsed and (line.startswith(_LINE_START) or _LINE_START.startswith(line))
                if f.read().strip() or line.endswith(b"\n") or not torn:
                    raise BenchError(f"{path}: the line after byte {good:,} is not an answer line ({e}); "
                                     "the file is not an output of `predict`: pass another --output") from None
                if repair:
                    warnings.warn(f"{path}: the last line was cut off by an interruption; that row is answered again", stacklevel=2)
                    f.truncate(good)
                return
            good += len(line)
            if repair and not line.endswith(b"\n"):  # the kill came just before the newline
                f.write(b"\n")
            yield rec


def _key(rid) -> str:
    return json.dumps(rid)  # "7" and 7 are different ids


@dataclass
class Done:
    ids: dict[str, str]  # id → input hash of its first line, for ids with a line already
    rows: dict[int, tuple[str, str]]  # row number → (id, input hash): what identifies a repeated id's error line
    errors: int = 0  # lines already written that hold an error
    answered_by: set[str] = field(default_factory=set)  # the `answerer_hash` of every line written so far
    unmarked: int = 0  # lines without one (written by an older version)


# The files of a model directory that shape its answers (weights, configs, tokenizer): not its card, the dev
# predictions `train` keeps there, or what `evaluate --out` may have written beside them.
_ANSWERING_NAMES = {"config.json", "qa_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                    "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt"}
_ANSWERING_SUFFIXES = (".safetensors", ".bin", ".onnx", ".onnx_data", ".model")


def answerer_hash(model: str, backend: str, precision: str, top_k: int, device: str | None = None) -> str:
    """Of what makes the answers: the model directory's weights, configs and tokenizer files, the backend, the
    precision it answers in (what "auto" picks on this device), and --top-k. Each line carries it, so that a
    resumed run does not append another model's answers to an output, which would then read as one model's."""
    from .model import QAConfig
    from .qa import pick_precision, resolve_backend

    backend = resolve_backend(model, backend)
    dev = None  # ONNX Runtime answers in its export's precision, on CPU: no torch to import (issue 26)
    if backend == "torch":
        import torch

        dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    precision = pick_precision(precision, backend, dev, QAConfig.load(model).bf16_check)[0]
    h = hashlib.sha1(json.dumps([backend, precision, top_k]).encode())
    for name in sorted(os.listdir(model)):
        path = os.path.join(model, name)
        if not (name in _ANSWERING_NAMES or name.endswith(_ANSWERING_SUFFIXES)) or not os.path.isfile(path):
            continue
        h.update(name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]


def done_lines(output: str, repair: bool = False) -> Done:
    """What is already written: in the output and in any parts a sharded run left."""
    done = Done({}, {})
    for path in ([output] if os.path.exists(output) else []) + _parts(output):
        for rec in _written(path, repair):
            done.ids.setdefault(_key(rec["id"]), rec.get("input_hash", ""))
            done.rows[rec["row"]] = (_key(rec["id"]), rec.get("input_hash", ""))
            done.errors += "error" in rec
            if "answered_by" in rec:
                done.answered_by.add(rec["answered_by"])
            else:
                done.unmarked += 1
    return done


def merge_parts(output: str) -> int:
    """Append every part's lines to the output in row order (a lazy k-way merge: memory stays flat), skipping
    lines it already holds; then remove the parts."""
    parts = _parts(output)
    if not parts:
        return 0
    have = {(rec["row"], _key(rec["id"])) for rec in _written(output)} if os.path.exists(output) else set()
    streams = [((rec["row"], i, rec) for rec in _written(p)) for i, p in enumerate(parts)]
    n = 0
    with open(output, "a", encoding="utf-8") as out:
        for row, _, rec in heapq.merge(*streams, key=lambda t: t[:2]):
            if (row, _key(rec["id"])) not in have:
                out.write(json_text(rec, where=output) + "\n")
                n += 1
        out.flush()
        os.fsync(out.fileno())
    for p in parts:
        os.remove(p)
    return n


def _line(row: Row, result: dict | None, top_k: int, answered_by: str) -> dict:
    if row.error:
        return {"id": row.id, "row": row.n, "input_hash": row.input_hash, "answered_by": answered_by, "error": row.error}
    line = {"id": row.id, "row": row.n, "input_hash": row.input_hash, "answered_by": answered_by, "answer": result["answer"], "start": result["start"],
            "end": result["end"], "score": result["score"], "no_answer": result["no_answer"], "p_correct": result["p_correct"],
            "alternatives": result["alternatives"][:top_k]}
    if isinstance(row.context, list):  # over several passages: which one, and every place the answer was found
        line.update(passage=result["passage"], locations=result["locations"])
    return line


def predict(qa, input: str | None, output: str, done: Done, dataset: str | None = None, top_k: int = TOP_K,
            chunk_rows: int = CHUNK_ROWS, rank: int = 0, world: int = 1, answered_by: str = "") -> dict:
    """Answer this process's slice of the rows into its output (the file itself, or its part when sharded),
    skipping what `done` holds. Returns counts: answered, skipped (already written), errors, the slice's rows."""
    rows, total = read_rows(input, dataset)
    first = next(rows, None)
    if first is None:  # as evaluate says it: no output file is made for no questions
        raise BenchError(f"{input or dataset}: holds no questions; pass at least one row as {'--input' if input else '--dataset'}")
    rows = itertools.chain([first], rows)
    target = output if world == 1 else part_path(output, rank, world)
    seen: dict[str, int] = {}
    counts = {"answered": 0, "skipped": 0, "errors": 0, "rows": 0}
    share = None if total is None else total // world + (rank < total % world)
    with open(target, "a", encoding="utf-8") as out, progress_bar(total=share, desc=f"predict {rank + 1}/{world}" if world > 1 else "predict",
                                                                   unit="row", disable=rank != 0) as bar:
        chunk: list[Row] = []

        def flush() -> None:
            todo = [r for r in chunk if not r.error and isinstance(r.context, str)]
            single = iter(qa.answer_batch([(r.question, r.context) for r in todo], top_k=max(top_k, 1)) if todo else [])
            results = iter([qa.answer_passages(r.question, r.context, top_k=max(top_k, 1)) if isinstance(r.context, list) else next(single)
                            for r in chunk if not r.error])
            for r in chunk:
                out.write(json_text(_line(r, None if r.error else next(results), top_k, answered_by), where=output) + "\n")
                counts["errors" if r.error else "answered"] += 1
            out.flush()  # a finished chunk survives whatever comes next
            bar.update(len(chunk))
            chunk.clear()

        for row in rows:
            key = _key(row.id)
            if key in seen and not row.error:  # every process sees every id, so all agree on duplicates
                row.error = f"id: {row.id!r} repeats row {seen[key]}; ids must be unique"
            seen.setdefault(key, row.n)
            if (row.n - 1) % world != rank:
                continue
            counts["rows"] += 1
            if row.n in done.rows if seen[key] != row.n else key in done.ids:  # same input: `check_same_input` made sure
                counts["skipped"] += 1
                bar.update(1)
                continue
            chunk.append(row)
            if len(chunk) >= chunk_rows:
                flush()
        if chunk:
            flush()
        os.fsync(out.fileno())
    return counts


def check_same_input(input: str | None, dataset: str | None, output: str, done: Done) -> None:
    """Before a resumed run answers anything: every row the output already holds an answer for asks the same
    question about the same context now, or one line saying the output belongs to other input."""
    if not done.ids:
        return
    rows, _ = read_rows(input, dataset)
    for row in rows:
        key = _key(row.id)
        was_key, was = done.rows.get(row.n, (key, done.ids.get(key)))
        if was_key != key or was and was != row.input_hash:  # (a line without input_hash, from an older version, is taken on trust)
            raise BenchError(f"{output}: holds an answer for id {row.id!r} (row {row.n}) to another question or context than the input has now: "
                             "it was written from other input; pass a new --output (or remove it to start over)")


def check_same_answerer(output: str, done: Done, answered_by: str) -> None:
    """Before a resumed run answers anything: the output's lines came from this model with these settings, or one
    line saying they did not (the answers would mix two models in one file)."""
    if done.answered_by - {answered_by}:
        raise BenchError(f"{output}: its answers came from another model, or with another --backend, --precision or --top-k, "
                         "than this run's; pass a new --output (or remove it to start over)")
    if done.unmarked:
        warnings.warn(f"{output}: {done.unmarked:,} line(s) written by an older albert-bench say nothing of the model that answered "
                      "them; this run cannot check they came from this one (a new --output can)", stacklevel=2)


def check_args(output: str, chunk_rows: int, input: str | None, dataset: str | None) -> None:
    """predict's own settings; the answering ones are `qa.AnswerSettings`'."""
    if bool(input) == bool(dataset):
        raise BenchError("pass the questions as --input FILE or as --dataset NAME[:CONFIG][:SPLIT], one of them")
    if not output.endswith(".jsonl"):
        raise BenchError(f"--output {output}: predictions are JSON Lines; name the file OUT.jsonl")
    check_output(output, "--output", kind="file")
    if not 1 <= chunk_rows <= 1_000_000:
        raise BenchError(f"--chunk-rows {chunk_rows}: pass 1 to 1,000,000")


def run(model: str, input: str | None, output: str, dataset: str | None = None, top_k: int = TOP_K, chunk_rows: int = CHUNK_ROWS,
        batch_size: int | None = None, backend: str = "auto", precision: str = "auto") -> dict:
    """The whole command, in one process or as one of several (`accelerate launch`, torchrun): every process
    reads what is written before any appends, answers its slice, and process 0 merges the parts."""
    from .errors import all_problems
    from .qa import AnswerSettings, QuestionAnswerer, check_model_dir

    all_problems(lambda: check_args(output, chunk_rows, input, dataset), lambda: AnswerSettings(backend, precision, top_k, batch_size),
                 lambda: check_model_dir(model, backend),
                 lambda: check_not_input(output, "--output", {"--input": input, "--model": model}),
                 lambda: sniff(input, "questions to answer with --input") if input else None)
    from .model import launched_processes

    state = launched_processes()
    world = state.num_processes if state else 1
    rank = state.process_index if state else 0
    barrier = state.wait_for_everyone if state else (lambda: None)
    problem = None
    if rank == 0:  # one writer per output: a second predict on it stops here, before it reads or repairs anything
        try:
            hold(output, "predict", "--output")
        except BenchError as e:
            problem = str(e)
    if state:
        from accelerate.utils import broadcast_object_list

        problem = broadcast_object_list([problem])[0]
    if problem:
        if state:
            state.destroy_process_group()
        raise BenchError(problem)
    if rank == 0:
        done_lines(output, repair=True)  # one process cuts torn last lines, before anyone reads or appends
    barrier()
    done = done_lines(output)
    # Hashed once, on process 0, and handed to the others: every process checks and writes the same value, so they
    # all stop at the check below, or none does.
    device = str(state.device) if state else None
    answered_by = answerer_hash(model, backend, precision, top_k, device) if rank == 0 else ""
    if state:
        from accelerate.utils import broadcast_object_list

        answered_by = broadcast_object_list([answered_by])[0]
    check_same_answerer(output, done, answered_by)
    check_same_input(input, dataset, output, done)
    barrier()  # everyone has read what was written before anyone appends
    qa = QuestionAnswerer.from_pretrained(model, device=device, batch_size=batch_size, backend=backend, precision=precision)
    counts = predict(qa, input, output, done, dataset, top_k, chunk_rows, rank, world, answered_by)
    counts["errors_before"] = done.errors if rank == 0 else 0  # error lines an earlier run wrote: still errors
    barrier()
    if rank == 0:
        counts["merged"] = merge_parts(output)
    barrier()
    if state:
        from accelerate.utils import gather_object

        every = gather_object([counts])
        counts = {k: sum(c.get(k, 0) for c in every) for k in ("answered", "skipped", "errors", "errors_before", "rows")}
        counts["processes"] = world
        state.destroy_process_group()  # a process that exits with its group alive aborts ("terminate called ...")
    counts["output"] = output
    return counts

