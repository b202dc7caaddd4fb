"""QA data files as rows: the flat layout of Hugging Face `datasets` (one row per question) in JSON Lines, JSON or
Parquet, and which layout a file holds, told from its content (never from its name).

A row is ``{"id", "title", "context", "question", "answers": {"text": [...], "answer_start": [...]}}``, as
`datasets`' ``squad_v2`` has it; other keys ride along. `data.py` validates rows and turns them into examples;
this module only reads and writes them, streaming where the format allows (JSON Lines and Parquet are read a
chunk at a time; a JSON file is one document and is read whole).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from .errors import BenchError
from .files import atomic_write, json_kind, json_text, parse_json, read_bytes

PARQUET_MAGIC = b"PAR1"
FLAT_SUFFIXES = {".jsonl": "jsonl", ".parquet": "parquet"}


def sniff(path: str, what: str) -> str:
    """What `path` holds: "parquet", "jsonl" (one JSON object per line) or "json" (one JSON document, SQuAD
    nested or a list of rows or ``{"data": [rows]}``), from its first bytes and first line."""
    try:
        with open(path, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # a device or pipe: /dev/zero would be read forever
                raise BenchError(f"{path}: not a regular file (a device or a pipe); save the data to a file and pass {what}")
            head = f.read(4)
            if head == PARQUET_MAGIC:
                return "parquet"
            f.seek(0)
            first = f.readline(1 << 26)  # a JSON Lines row over 64 MiB is not a QA row
            while first and not first.strip(b" \t\r\n\xef\xbb\xbf"):  # blank lines (or a lone BOM) before the first row
                first = f.readline(1 << 26)
            rest = f.read(4096)
    except OSError:
        read_bytes(path, what)  # the one place that words every way a file cannot be read
        raise
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    if first.lstrip()[:1] != b"{" or not rest.strip():
        return "json"  # a list, a pretty-printed object, or a single line: one document
    try:
        return "jsonl" if isinstance(parse_json(first), dict) else "json"
    except BenchError:
        return "json"  # the first line alone is not a document: a pretty-printed or broken JSON object


def iter_rows(path: str, fmt: str, what: str, chunk_rows: int = 1024) -> Iterator[tuple[int, dict]]:
    """(row number from 1, row) for every row of a flat file; a row that is not a JSON object is one line
    naming its number. JSON Lines and Parquet stream; "json" parses the whole document."""
    if fmt == "parquet":
        yield from _parquet_rows(path, what, chunk_rows)
    elif fmt == "jsonl":
        yield from _jsonl_rows(path, what)
    else:
        from .files import read_json

        doc = read_json(path, what)
        rows = doc.get("data") if isinstance(doc, dict) and "data" in doc else [doc] if isinstance(doc, dict) else doc
        if not isinstance(rows, list):
            raise BenchError(f"{path}: expected a list of rows, or {{\"data\": [rows]}}; pass {what}")
        for n, row in enumerate(rows, 1):
            yield n, _object(row, path, f"row {n}")


def count_rows(path: str, fmt: str) -> int | None:
    """Rows in a flat file, cheaply: Parquet's footer, or the non-blank lines of JSON Lines."""
    if fmt == "parquet":
        return _parquet_file(path, "a Parquet file").metadata.num_rows
    if fmt == "jsonl":
        n = 0
        with open(path, "rb") as f:
            for line in f:
                n += bool(line.strip())
        return n
    return None


def _parquet_file(path: str, what: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise BenchError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0][:160]}); pass {what}") from None


def columns(path: str, fmt: str) -> list[str] | None:
    """A Parquet file's column names (None for other formats: their rows may differ)."""
    return list(_parquet_file(path, "a Parquet file").schema_arrow.names) if fmt == "parquet" else None


def _object(row, path: str, where: str) -> dict:
    if not isinstance(row, dict):
        raise BenchError(f"{path}: {where}: expected a JSON object with question and context, got {json_kind(row)}")
    return row


def _jsonl_rows(path: str, what: str) -> Iterator[tuple[int, dict]]:
    from .files import MAX_TEXT_BYTES, too_big

    with open(path, "rb") as f:
        row = 0
        # A line is read up to the cap and no further: one row of 50 MB is refused, not parsed and answered.
        for lineno, line in enumerate(iter(lambda: f.readline(MAX_TEXT_BYTES + 1), b""), 1):
            if len(line) > MAX_TEXT_BYTES:
                raise too_big(f"{path}: line {lineno}", len(line) + len(f.readline()))
            if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if not line.strip():
                continue
            row += 1
            try:
                value = parse_json(line)
            except BenchError as e:
                raise BenchError(f"{path}: line {lineno}: {str(e).replace('(line 1, column', '(column')}; every line of a JSON Lines file is one JSON object") from None
            yield row, _object(value, path, f"line {lineno}")


def _parquet_rows(path: str, what: str, chunk_rows: int) -> Iterator[tuple[int, dict]]:
    import pyarrow as pa

    pf = _parquet_file(path, what)
    n = 0
    try:
        for batch in pf.iter_batches(batch_size=chunk_rows):
            for row in batch.to_pylist():
                n += 1
                yield n, _texts(row, path, n)
    except pa.ArrowException as e:
        raise BenchError(f"{path}: Parquet data damaged after row {n:,} ({str(e).splitlines()[0][:160]}); pass {what}") from None


def _texts(row: dict, path: str, n: int) -> dict:
    """A Parquet row with its binary values as text (a column written as bytes rather than strings is common),
    and at most MAX_TEXT_BYTES of it; bytes that are not UTF-8 are one line naming the row and column."""
    from .files import MAX_TEXT_BYTES, too_big

    size = 0

    def text(v, column):
        nonlocal size
        if isinstance(v, (bytes, bytearray)):
            try:
                v = bytes(v).decode("utf-8")
            except UnicodeDecodeError as e:
                raise BenchError(f"{path}: row {n}: column {column!r} holds bytes that are not UTF-8 text (at byte {e.start:,}); "
                                 "store text as UTF-8 strings") from None
        if isinstance(v, str):
            size += len(v.encode("utf-8", "surrogatepass"))
        elif isinstance(v, dict):
            v = {k: text(x, column) for k, x in v.items()}
        elif isinstance(v, list):
            v = [text(x, column) for x in v]
        return v

    row = {k: text(v, k) for k, v in row.items()}
    if size > MAX_TEXT_BYTES:
        raise too_big(f"{path}: row {n}", size)
    return row


# ---------------------------------------------------------------- writing


def write_rows(path: str, rows, fmt: str) -> int:
    """Write rows as "jsonl" or "parquet" through a temporary file (a reader never sees half a file)."""
    if fmt not in ("jsonl", "parquet"):
        raise ValueError(fmt)
    n = 0
    with atomic_write(path, "w" if fmt == "jsonl" else "wb", what="the rows") as f:
        if fmt == "jsonl":
            for row in rows:
                f.write(json_text(row, where=path) + "\n")
                n += 1
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            rows = list(rows)
            n = len(rows)
            # Every key of every row is a column (pyarrow's from_pylist would keep only the first row's keys).
            keys = list(dict.fromkeys(k for r in rows for k in r))
            columns = {}
            for k in keys:
                try:
                    columns[k] = pa.array([r.get(k) for r in rows])
                except (pa.ArrowException, TypeError) as e:
                    raise BenchError(f"{path}: column {k!r} cannot be written as Parquet: its values differ in type across rows "
                                     f"({str(e).splitlines()[0][:120]}); write JSON Lines (.jsonl) instead") from None
            try:
                pq.write_table(pa.table(columns), f)
            except pa.ArrowException as e:
                raise BenchError(f"{path}: cannot be written as Parquet ({str(e).splitlines()[0][:160]}); write JSON Lines (.jsonl) instead") from None
    return n
