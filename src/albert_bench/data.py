"""SQuAD v1.1 / v2.0 files: read (path or URL, with a download cache), validate, repair offsets, summarise.

Every question becomes one `Example`, unanswerable ones included (``answers == []``), with all its gold
answers. Nothing is dropped silently: offsets that are off by a character or two are repaired and counted,
answers whose text is not in the context at all are kept and listed in ``SquadFile.unfound``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import BenchError
from .files import atomic_write, blank, file_sha256, json_kind, lone_surrogate, read_json
from .formats import iter_rows, sniff

SQUAD2_URLS = {
    "train": "https://rajpurkar.github.io/SQuAD-explorer/dataset/train-v2.0.json",
    "dev": "https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v2.0.json",
}

# Shifts tried, in order, when `answer_start` does not point at the answer text. The original notebook fixed
# offsets that were one or two characters early; looking both ways costs nothing.
_OFFSET_SHIFTS = (-1, -2, 1, 2)


@dataclass(frozen=True)
class Answer:
    text: str
    start: int  # character offset into the context, after repair

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass
class Example:
    id: str
    question: str
    context: str
    answers: list[Answer]  # empty: unanswerable
    title: str = ""
    article_index: int = 0
    paragraph_index: int = 0
    # Answers whose text could not be found in the context; kept for scoring, never used as a label.
    unfound: list[Answer] = field(default_factory=list)

    @property
    def is_impossible(self) -> bool:
        return not self.answers and not self.unfound


@dataclass
class SquadFile:
    path: str
    version: str
    data: list  # the file's raw "data" list, which the official metric walks
    examples: list[Example]
    repaired: int  # offsets moved by a character or two, or to the only place the text occurs
    unfound: list[tuple[str, str]]  # (question id, answer text) for answers not present in the context

    fingerprint: str | None = None  # for data that is not one file (a hub dataset): what identifies its content

    @property
    def sha256(self) -> str:
        return self.fingerprint or file_sha256(self.path)


def default_cache_dir() -> Path:
    root = os.environ.get("ALBERT_BENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "albert-bench")
    return Path(root)


# Every download is bounded: its whole time and its size (SQuAD 2.0's train file is 42 MB). Environment overrides
# are for a slow link or a larger file of one's own.
DOWNLOAD_SECONDS = float(os.environ.get("ALBERT_BENCH_DOWNLOAD_SECONDS", 900))
DOWNLOAD_MAX_BYTES = int(float(os.environ.get("ALBERT_BENCH_DOWNLOAD_MAX_BYTES", 2 << 30)))


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM raises KeyboardInterrupt here (main thread only), so a stopped download's `finally` removes its
    .part file; the handler before is put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def resolve(path_or_url: str, cache_dir: str | os.PathLike | None = None, flag: str = "FILE", check=None) -> str:
    """A local path for `path_or_url`. A URL is downloaded once into the cache, keyed by the whole URL (two URLs
    ending in the same file name never share an entry), and becomes the cached file only after its length matches
    Content-Length and `check(path of the download)` (when given) accepts it; otherwise one line and nothing cached."""
    if not path_or_url.startswith(("http://", "https://")):
        if not os.path.exists(path_or_url):
            raise BenchError(f"{path_or_url}: no such file; pass an existing SQuAD JSON (or .jsonl/.parquet rows) file as {flag}")
        if os.path.isdir(path_or_url):
            raise BenchError(f"{path_or_url}: is a directory; pass the data file itself as {flag}")
        return path_or_url
    name = re.sub(r"[^A-Za-z0-9._-]", "_", urllib.parse.urlsplit(path_or_url).path.rstrip("/").rsplit("/", 1)[-1])
    if not name.strip("._"):
        raise BenchError(f"{path_or_url}: the URL names no file; pass the URL of the JSON file itself (for example .../dev-v2.0.json) as {flag}")
    cache = Path(cache_dir) if cache_dir else default_cache_dir() / "squad"
    # The key is the whole URL; the file name after it is for people browsing the cache.
    target = cache / f"{hashlib.sha256(path_or_url.encode()).hexdigest()[:16]}-{name}"
    if target.exists():
        return str(target)
    made = [p for p in (cache, *cache.parents) if not p.exists()]  # innermost first: removed again if it fails
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, suffix=".part")
    try:
        from .progress import bar as progress_bar

        deadline = time.monotonic() + DOWNLOAD_SECONDS
        with _sigterm_as_interrupt(), os.fdopen(fd, "wb") as out, urllib.request.urlopen(path_or_url, timeout=30) as resp:
            declared = resp.headers.get("Content-Length")
            total = int(declared) if declared and declared.isdigit() else None
            if total is not None and total > DOWNLOAD_MAX_BYTES:
                raise BenchError(f"cannot use {path_or_url}: it is {total:,} bytes, above the {DOWNLOAD_MAX_BYTES:,} allowed "
                                 f"(ALBERT_BENCH_DOWNLOAD_MAX_BYTES); download it yourself and pass the file with {flag}")
            size = 0
            with progress_bar(total=total, unit="B", unit_scale=True, desc=name) as bar:
                for block in iter(lambda: resp.read1(1 << 16), b""):
                    out.write(block)
                    size += len(block)
                    bar.update(len(block))
                    if size > DOWNLOAD_MAX_BYTES:
                        raise BenchError(f"cannot use {path_or_url}: the server sent more than {DOWNLOAD_MAX_BYTES:,} bytes "
                                         f"(ALBERT_BENCH_DOWNLOAD_MAX_BYTES); nothing was cached, download it yourself and pass the file with {flag}")
                    if time.monotonic() > deadline:
                        raise BenchError(f"cannot use {path_or_url}: the download took longer than {DOWNLOAD_SECONDS:.0f} s "
                                         f"(ALBERT_BENCH_DOWNLOAD_SECONDS) with {size:,} bytes received; nothing was cached, "
                                         f"try again or pass a local file with {flag}")
        if total is not None and size != total:
            raise BenchError(f"cannot use {path_or_url}: the download stopped after {size:,} of {total:,} bytes; nothing was cached, try again")
        if check is not None:
            try:
                check(tmp)
            except BenchError as e:
                with open(tmp, "rb") as f:
                    head = f.read(60).decode("utf-8", "replace").strip().replace("\n", " ")
                raise BenchError(f"cannot use {path_or_url}: the server sent something that is not a valid file for {flag} "
                                 f"({str(e).removeprefix(tmp + ': ')}; it starts with {head!r}); nothing was cached") from None
        with atomic_write(f"{target}.url", what="the cache's note of the URL") as f:
            f.write(path_or_url + "\n")
        os.replace(tmp, target)  # only a complete, checked download ever sits under the final name
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as e:
        reason = f"HTTP {e.code} {e.reason}" if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", None) or f"{type(e).__name__}: {e}"
        raise BenchError(
            f"cannot download {path_or_url} ({reason}) and no cached copy is at {target}; "
            f"download it elsewhere and pass the local file with {flag}"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
        if not target.exists():  # a failed first download leaves no empty folder behind
            for folder in made:
                if any(folder.iterdir()):
                    break
                folder.rmdir()
    return str(target)


def _fail(path: str, where: str, what: str) -> BenchError:
    return BenchError(f"{path}: {where}: {what}; fix the file, or pass valid SQuAD v1.1/v2.0 JSON or datasets-style rows (README: Data)")


_WANT = {str: "a string", list: "a list", dict: "an object", int: "an integer"}


def _expect(value, kind, path: str, where: str, name: str):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _fail(path, where, f"field '{name}' should be {_WANT[kind]}, got {_got(value)}")
    return value


def _got(value) -> str:
    return "nothing (missing or null)" if value is None else f"{json_kind(value)} {json.dumps(value)[:40]}"


def _text(value, path: str, where: str, name: str, blank_ok: bool = False) -> str:
    """A string field: a str, with no lone surrogate (no tokenizer or UTF-8 writer takes one), not blank unless allowed."""
    _expect(value, str, path, where, name)
    if (at := lone_surrogate(value)) is not None:
        raise _fail(path, where, f"field '{name}' holds a lone surrogate at character {at} (text that is not valid Unicode)")
    if not blank_ok and blank(value):
        raise _fail(path, where, f"field '{name}' is empty")
    return value


def _repair(context: str, text: str, start: int) -> tuple[int | None, bool]:
    """(start, repaired?) for an answer, or (None, False) when the text is nowhere in the context."""
    if context[start : start + len(text)] == text:
        return start, False
    for shift in _OFFSET_SHIFTS:
        s = start + shift
        if s >= 0 and context[s : s + len(text)] == text:
            return s, True
    # Farther off: take the occurrence nearest to the stated offset.
    hits, i = [], context.find(text)
    while i != -1 and text:
        hits.append(i)
        i = context.find(text, i + 1)
    if hits:
        return min(hits, key=lambda h: abs(h - start)), True
    return None, False


def _question(qa: dict, context: str, path: str, qwhere: str, qid: str):
    """A question's checked (question text, answers, unfound answers, offsets repaired) or one line naming it."""
    question = _text(qa.get("question"), path, qwhere, "question")
    answers, missing, repaired = [], [], 0
    for k, ans in enumerate(_expect(qa.get("answers", []), list, path, qwhere, "answers")):
        awhere = f"{qwhere} answer {k}"
        _expect(ans, dict, path, awhere, "answers[]")
        text = _text(ans.get("text"), path, awhere, "text", blank_ok=True)
        if not text.strip():
            raise _fail(path, awhere, "empty answer text; an unanswerable question has an empty 'answers' list instead")
        start = ans.get("answer_start")
        _expect(start, int, path, awhere, "answer_start")  # true is not 1, 5.0 is not 5
        if not 0 <= start <= len(context):
            raise _fail(path, awhere, f"answer_start {start} is outside the context (length {len(context)})")
        fixed, moved = _repair(context, text, start)
        if fixed is None:
            missing.append(Answer(text, start))
        else:
            repaired += moved
            answers.append(Answer(text, fixed))
    impossible = qa.get("is_impossible", False)
    if not isinstance(impossible, bool):
        raise _fail(path, qwhere, f"field 'is_impossible' should be true or false, got {_got(impossible)}")
    if impossible and (answers or missing):
        raise _fail(path, qwhere, "is_impossible is true but the question has answers")
    if not impossible and not (answers or missing) and "is_impossible" in qa:
        raise _fail(path, qwhere, "question has no answers but is_impossible is false")
    return question, answers, missing, repaired


def parse_squad(raw, path: str = "<data>") -> SquadFile:
    """Validate a decoded SQuAD JSON object and turn it into examples. Raises BenchError on the first problem."""
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise _fail(path, "top level", "expected an object with a 'data' list of articles (SQuAD format)")
    examples: list[Example] = []
    seen: set[str] = set()
    repaired, unfound = 0, []
    for ai, article in enumerate(raw["data"]):
        where = f"article {ai}"
        _expect(article, dict, path, where, "data[]")
        title = _text(article.get("title", ""), path, where, "title", blank_ok=True)
        where = f"article {ai} ({title!r})" if title else where
        for pi, para in enumerate(_expect(article.get("paragraphs"), list, path, where, "paragraphs")):
            pwhere = f"{where} paragraph {pi}"
            _expect(para, dict, path, pwhere, "paragraphs[]")
            context = _text(para.get("context"), path, pwhere, "context")
            for qi, qa in enumerate(_expect(para.get("qas"), list, path, pwhere, "qas")):
                _expect(qa, dict, path, f"{pwhere} question {qi}", "qas[]")
                qid = _text(qa.get("id"), path, f"{pwhere} question {qi}", "id")
                qwhere = f"{pwhere} question id {qid}"
                if qid in seen:
                    raise _fail(path, qwhere, "duplicate question id")
                seen.add(qid)
                question, answers, missing, moved = _question(qa, context, path, qwhere, qid)
                repaired += moved
                unfound += [(qid, a.text) for a in missing]
                examples.append(Example(qid, question, context, answers, title, ai, pi, missing))
    version = str(raw.get("version", ""))
    return SquadFile(path, version, raw["data"], examples, repaired, unfound)


# ---------------------------------------------------------------- the flat layout (datasets-style rows)

ARTICLE = "article"  # a row's article index, written only where titles alone would join two articles (rows_from_squad)
_ROW_KEYS = ("id", "title", "context", "question", "answers", ARTICLE)
_ANSWER_LISTS = ("answers", "plausible_answers")  # columnar in rows, a list of {text, answer_start} in SQuAD


def _answers_from_row(value, path: str, where: str, name: str) -> list:
    """A row's answers — ``{"text": [...], "answer_start": [...]}`` as `datasets` has them, or SQuAD's list of
    ``{"text", "answer_start"}`` — as SQuAD's list."""
    if isinstance(value, list):
        return value  # SQuAD's own shape; checked with the question
    if not isinstance(value, dict):
        raise _fail(path, where, f"field '{name}' should be {{\"text\": [...], \"answer_start\": [...]}}, got {_got(value)}")
    texts, starts = value.get("text"), value.get("answer_start")
    for key, col in (("text", texts), ("answer_start", starts)):
        if not isinstance(col, list):
            raise _fail(path, where, f"field '{name}.{key}' should be a list, got {_got(col)}")
    if len(texts) != len(starts):
        raise _fail(path, where, f"'{name}' has {len(texts)} text(s) but {len(starts)} answer_start(s); they pair up one to one")
    return [{"text": t, "answer_start": s} for t, s in zip(texts, starts)]


def squad_from_rows(rows, path: str = "<rows>", version: str = "v2.0") -> SquadFile:
    """Flat rows ((row number, row) pairs) as a SquadFile: checked as strictly as SQuAD JSON, each problem named
    by row number and id. A row starts a new article when its title differs from the row before, and a new
    paragraph when its context does, so SQuAD → rows → SQuAD gives back the same file; two articles in a row of one
    title stay two by the `article` column `rows_from_squad` adds for them."""
    articles: list[dict] = []
    examples: list[Example] = []
    seen: dict[str, int] = {}
    repaired, unfound = 0, []
    last_article_no = None
    for n, row in rows:
        where = f"row {n}"
        qid = _text(row.get("id"), path, where, "id")
        qwhere = f"row {n} (id {qid})"
        if qid in seen:
            raise _fail(path, qwhere, f"duplicate question id (also row {seen[qid]})")
        seen[qid] = n
        title = _text(row.get("title") or "", path, qwhere, "title", blank_ok=True)
        context = _text(row.get("context"), path, qwhere, "context")
        qa = {"id": qid, "question": row.get("question")}
        for k, v in row.items():
            if v is None:  # a null column is a row without that key (Parquet has every column in every row)
                continue
            if k in _ANSWER_LISTS:
                qa[k] = _answers_from_row(v, path, qwhere, k)
            elif k not in _ROW_KEYS:
                qa[k] = v
        if "answers" not in qa:  # a file of questions only: scoring or training on it would count every one unanswerable
            raise _fail(path, qwhere, "no 'answers' field (an unanswerable question has empty lists); to answer questions "
                        "without gold answers use `albert-bench predict`")
        question, answers, missing, moved = _question(qa, context, path, qwhere, qid)
        repaired += moved
        unfound += [(qid, a.text) for a in missing]
        article_no = row.get(ARTICLE)
        if not articles or articles[-1]["title"] != title or article_no != last_article_no:
            articles.append({"title": title, "paragraphs": []})
        last_article_no = article_no
        article = articles[-1]
        if not article["paragraphs"] or article["paragraphs"][-1]["context"] != context:
            article["paragraphs"].append({"context": context, "qas": []})
        ai, pi = len(articles) - 1, len(article["paragraphs"]) - 1
        article["paragraphs"][pi]["qas"].append(qa)
        examples.append(Example(qid, question, context, answers, title, ai, pi, missing))
    return SquadFile(path, version, articles, examples, repaired, unfound)


def only_questions(data: list, ids) -> list:
    """SQuAD articles holding only the questions whose id is in `ids` (articles and paragraphs kept, emptied where
    none is left): what the official metric scores when only those questions were answered."""
    return [{**a, "paragraphs": [{**p, "qas": [q for q in p["qas"] if q["id"] in ids]} for p in a["paragraphs"]]} for a in data]


def rows_from_squad(data: list):
    """SQuAD's articles as flat rows, in file order (answer lists columnar, as `datasets` has them). Where two
    articles in a row share a title (or both have none), every row also gets `article` (its article's index):
    the title alone would join them into one when read back."""
    titles = [a.get("title", "") for a in data]
    numbered = any(a == b for a, b in zip(titles, titles[1:]))
    for ai, article in enumerate(data):
        for para in article["paragraphs"]:
            for qa in para["qas"]:
                row = {"id": qa["id"], "title": article.get("title", ""), "context": para["context"], "question": qa["question"]}
                if numbered:
                    row[ARTICLE] = ai
                for k, v in qa.items():
                    if k in _ANSWER_LISTS:
                        row[k] = {"text": [a["text"] for a in v], "answer_start": [a["answer_start"] for a in v]}
                    elif k not in row:
                        row[k] = v
                row.setdefault("answers", {"text": [], "answer_start": []})
                yield row


def read_squad(path: str, flag: str = "FILE") -> SquadFile:
    """A local QA data file in any layout, told from its content: SQuAD JSON, or datasets-style rows as JSON
    Lines, JSON (a list of rows, or ``{"data": [rows]}``) or Parquet."""
    what = f"a SQuAD JSON file or datasets-style rows (.jsonl, .json, .parquet) as {flag}"
    fmt = sniff(path, what)
    if fmt != "json":
        return squad_from_rows(iter_rows(path, fmt, what), path)
    doc = read_json(path, what)
    rows = as_rows(doc)
    if rows is None:
        return parse_squad(doc, path)  # SQuAD's nested articles (or its error, which names what is wrong)
    version = str(doc.get("version") or "v2.0") if isinstance(doc, dict) else "v2.0"
    return squad_from_rows(((n, _row(r, path, n)) for n, r in enumerate(rows, 1)), path, version)


def as_rows(doc) -> list | None:
    """The rows a JSON document holds — a list of rows, ``{"data": [rows]}``, or one row (a JSON Lines file of one
    line) — or None for SQuAD's nested articles (told by 'paragraphs' in any article: an article without them,
    even the first, is then SQuAD's problem to name, not a row's)."""
    if isinstance(doc, list):
        return doc
    if not isinstance(doc, dict):
        return None
    if "data" not in doc and ("question" in doc or "context" in doc):
        return [doc]
    data = doc.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict) and not any(isinstance(a, dict) and "paragraphs" in a for a in data):
        return data
    return None


def _row(row, path: str, n: int) -> dict:
    if not isinstance(row, dict):
        raise _fail(path, f"row {n}", f"expected an object with question and context, got {_got(row)}")
    return row


def _download_check(url: str, flag: str):
    def check(tmp: str) -> None:
        read_squad(tmp, flag)
    return check


def load_squad(path_or_url: str, cache_dir: str | None = None, flag: str = "FILE", need_questions: bool = False) -> SquadFile:
    """Read and validate a QA data file (path or URL; SQuAD JSON or flat rows, see `read_squad`).
    `need_questions`: a file without any question is an error."""
    path = resolve(path_or_url, cache_dir, flag, check=_download_check(path_or_url, flag))
    sq = read_squad(path, flag)
    if need_questions and not sq.examples:
        raise BenchError(f"{path}: holds no questions; pass a SQuAD file with at least one question as {flag}")
    return sq


# ---------------------------------------------------------------- hub datasets (`--dataset NAME[:CONFIG][:SPLIT]`)


def parse_dataset_spec(spec: str, default_split: str = "validation") -> tuple[str, str | None, str]:
    """NAME[:CONFIG][:SPLIT] → (name, config or None, split)."""
    parts = spec.split(":")
    if not parts[0].strip() or len(parts) > 3 or any(p != p.strip() for p in parts):
        raise BenchError(f"--dataset {spec!r}: expected NAME[:CONFIG][:SPLIT], e.g. squad_v2 or squad_v2:squad_v2:validation")
    name, config, split = (parts + [None, None])[:3]
    return name, config or None, split or default_split


def open_dataset(spec: str, flag: str = "--dataset", default_split: str = "validation", need: tuple = ("id", "context", "question")):
    """A split of a dataset through the `datasets` library (a hub name, with its cache, or a local folder of
    data files), with the columns `need` names. Without network the hub is asked once (5 s), then only the
    cache is used."""
    name, config, split = parse_dataset_spec(spec, default_split)
    if os.path.isfile(name):
        raise BenchError(f"{flag} {spec}: {name} is a file; pass a file as FILE (or --input, --data), and --dataset a hub name or a folder")
    import datasets

    from .hub import offline_unless_reachable
    from .progress import quiet_libraries

    quiet_libraries()
    if not os.environ.get("ALBERT_BENCH_VERBOSE"):
        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    local = os.path.isdir(name)
    why_offline = None if local else offline_unless_reachable(f"/api/datasets/{name}")
    try:
        ds = datasets.load_dataset(name, config, split=split)
    except (ConnectionError, FileNotFoundError, OSError) as e:
        where = f"it is not in the local datasets cache and the hub is out of reach ({why_offline})" if why_offline else str(e).splitlines()[0][:200]
        if local:  # a folder of the user's: the hub has nothing to do with it
            raise BenchError(f"{flag} {spec}: cannot load the folder {name!r}: {where}; put the split's data files in it "
                             "(e.g. validation.jsonl, .json or .parquet), or pass a data file as FILE") from None
        raise BenchError(f"{flag} {spec}: cannot load {name!r}: {where}; download it where the hub is reachable "
                         f"(`albert-bench data convert --dataset {spec} --out data.jsonl`) and pass the file instead") from None
    except ValueError as e:  # an unknown split or config
        raise BenchError(f"{flag} {spec}: {str(e).splitlines()[0][:240]}") from None
    except Exception as e:  # noqa: BLE001 -- datasets raises its own classes for a missing dataset or config
        raise BenchError(f"{flag} {spec}: cannot load {name!r} ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    missing = [c for c in need if c not in ds.column_names]
    if missing:
        raise BenchError(f"{flag} {spec}: the dataset has no column(s) {', '.join(missing)} (it has {', '.join(ds.column_names)}); "
                         "pass a SQuAD-style QA dataset")
    return ds


def load_dataset(spec: str, flag: str = "--dataset", default_split: str = "validation", need_questions: bool = False) -> SquadFile:
    """A split of a dataset (see `open_dataset`), checked like a file."""
    ds = open_dataset(spec, flag, default_split)
    sq = squad_from_rows(enumerate(ds, 1), spec)
    sq.fingerprint = f"datasets:{ds._fingerprint}"
    if need_questions and not sq.examples:
        raise BenchError(f"{flag} {spec}: holds no questions")
    return sq


def load_data(file: str | None = None, dataset: str | None = None, flag: str = "FILE", need_questions: bool = False) -> SquadFile:
    """A file (path or URL, any layout) or a `--dataset` spec, exactly one of them."""
    if bool(file) == bool(dataset):
        raise BenchError(f"pass the data as {flag} or as --dataset NAME[:CONFIG][:SPLIT], one of them"
                         + (" (both were given)" if file else ""))
    if dataset:
        return load_dataset(dataset, need_questions=need_questions)
    return load_squad(file, flag=flag, need_questions=need_questions)


OUTPUT_FORMATS = {".json": "squad", ".jsonl": "jsonl", ".parquet": "parquet"}


def output_format(path: str, flag: str = "--out") -> str:
    """The layout to write, from the output's suffix: .json SQuAD JSON, .jsonl / .parquet flat rows."""
    fmt = OUTPUT_FORMATS.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise BenchError(f"{flag} {path}: name the output .json (SQuAD JSON), .jsonl (JSON Lines rows) or .parquet (Parquet rows)")
    return fmt


def write_data(sq: SquadFile, path: str) -> int:
    """Write `sq` in the layout `path`'s suffix names (see `output_format`); returns the number of questions."""
    from .files import write_json_atomic
    from .formats import write_rows

    fmt = output_format(path)
    if fmt == "squad":
        write_json_atomic(path, {"version": sq.version or "v2.0", "data": sq.data})
        return len(sq.examples)
    return write_rows(path, rows_from_squad(sq.data), fmt)


def percentiles(values, qs=(50, 90, 95, 99, 100)) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {}
    return {f"p{q}" if q < 100 else "max": float(np.percentile(arr, q)) for q in qs}


def stats(sq: SquadFile, tokenizer=None) -> dict:
    """Counts and length percentiles for a SquadFile (tokens too when a tokenizer is given)."""
    ex = sq.examples
    contexts = {(e.article_index, e.paragraph_index): e.context for e in ex}
    out = {
        "file": sq.path,
        "version": sq.version,
        "articles": len(sq.data),
        "paragraphs": sum(len(a["paragraphs"]) for a in sq.data),
        "questions": len(ex),
        "answerable": sum(not e.is_impossible for e in ex),
        "unanswerable": sum(e.is_impossible for e in ex),
        "answers": sum(len(e.answers) + len(e.unfound) for e in ex),
        "repaired_offsets": sq.repaired,
        "unfound_answers": len(sq.unfound),
        "unfound_examples": [{"id": q, "text": t} for q, t in sq.unfound[:20]],
        "chars": {
            "context": percentiles([len(c) for c in contexts.values()]),
            "question": percentiles([len(e.question) for e in ex]),
            "answer": percentiles([len(a.text) for e in ex for a in e.answers]),
        },
    }
    if tokenizer is not None:
        ctx_tokens = tokenizer(list(contexts.values()), add_special_tokens=False)["input_ids"]
        q_tokens = tokenizer([e.question for e in ex], add_special_tokens=False)["input_ids"]
        out["tokens"] = {
            "context": percentiles([len(t) for t in ctx_tokens]),
            "question": percentiles([len(t) for t in q_tokens]),
        }
    return out


def split_by_article(sq: SquadFile) -> tuple[dict, dict]:
    """(even-indexed articles, odd-indexed articles) as SQuAD JSON objects: a held-out split by topic."""
    def part(parity):
        return {"version": sq.version or "v2.0", "data": [a for i, a in enumerate(sq.data) if i % 2 == parity]}

    return part(0), part(1)


def find_example(sq: SquadFile, id: str | None = None, index: int | None = None) -> Example:
    if id is not None:
        for e in sq.examples:
            if e.id == id:
                return e
        raise BenchError(f"{sq.path}: no question with id {id!r}; `albert-bench data stats` shows what the file holds")
    if index is None or not 0 <= index < len(sq.examples):
        raise BenchError(f"{sq.path}: --index {index} is out of range; the file has {len(sq.examples)} questions (0..{len(sq.examples) - 1})")
    return sq.examples[index]


def render_example(e: Example, color: bool = False) -> str:
    """An example as a person reads it: each gold answer marked [[like this]] in its context."""
    lines = [f"id:        {e.id}", f"title:     {e.title}", f"question:  {e.question}"]
    if e.is_impossible:
        lines.append("answers:   (none: this question is unanswerable from the passage)")
    for k, a in enumerate(e.answers):
        lines.append(f"answer {k}:  {a.text!r}  chars {a.start}-{a.end}")
    for a in e.unfound:
        lines.append(f"unfound:   {a.text!r}  (not in the context; stated start {a.start})")
    # Distinct spans, marked from the last to the first so earlier offsets stay valid.
    spans = sorted({(a.start, a.end) for a in e.answers})
    merged: list[list[int]] = []
    for s, t in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], t)
        else:
            merged.append([s, t])
    open_, close = ("\x1b[1;43m", "\x1b[0m") if color else ("[[", "]]")
    text = e.context
    for s, t in reversed(merged):
        text = text[:s] + open_ + text[s:t] + close + text[t:]
    lines += ["context:", text]
    return "\n".join(lines)
