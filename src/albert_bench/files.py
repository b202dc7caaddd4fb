"""Files in and out, the ground floor every stage may use: the one strict JSON parser and atomic JSON writes.

`parse_json` is what every JSON input goes through (files and HTTP bodies alike): it refuses, with one line a
person can act on, what `json.loads` would crash on (deep nesting, numbers of thousands of digits), take
silently (NaN, Infinity, 1e999 read as inf) or misreport (UTF-16 text, invalid UTF-8).
"""

from __future__ import annotations

import json
import os

from .errors import BenchError

MAX_NUMBER_CHARS = 100  # no real number in a SQuAD file, a prediction file or a request is longer
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32 LE"), (b"\x00\x00\xfe\xff", "UTF-32 BE"), (b"\xff\xfe", "UTF-16 LE"), (b"\xfe\xff", "UTF-16 BE"))


def _number(kind):
    def parse(text: str):
        if len(text) > MAX_NUMBER_CHARS:
            raise BenchError(f"a number of {len(text):,} characters ({text[:12]}...); numbers may have at most {MAX_NUMBER_CHARS}")
        value = kind(text)
        if value in (float("inf"), float("-inf")):
            raise BenchError(f"the number {text} is too large to represent")
        return value
    return parse


def _constant(name: str):
    raise BenchError(f"{name} is not a JSON number; write null or a finite number")


def guess_encoding(data: bytes) -> str | None:
    """The encoding that bytes which are not UTF-8 most likely use, for the error message."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    head = data[:400]
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4:
        return "UTF-16 LE"
    if len(head) >= 4 and head[0::2].count(0) > len(head) // 4:
        return "UTF-16 BE"
    try:
        data.decode("cp1252")
        return "Latin-1/Windows-1252"
    except UnicodeDecodeError:
        return None


def parse_json(data: bytes | str):
    """Parse JSON text strictly. Raises `BenchError` with one line (no file name: callers add theirs) for
    text that is not UTF-8 (a UTF-8 BOM is accepted), empty, not JSON (line and column), nested too deeply,
    or holds NaN/Infinity or a number longer than `MAX_NUMBER_CHARS` characters."""
    if isinstance(data, bytes):
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            guess = guess_encoding(data)
            hint = f"; it looks like {guess}: save it as UTF-8" if guess else "; save it as UTF-8"
            raise BenchError(f"not UTF-8 text (invalid byte at position {e.start:,}{hint})") from None
    else:
        text = data
    if not text.strip():
        raise BenchError("empty; expected JSON")
    try:
        return json.loads(text, parse_int=_number(int), parse_float=_number(float), parse_constant=_constant)
    except json.JSONDecodeError as e:
        raise BenchError(f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise BenchError("JSON nested too deeply (more than ~900 levels)") from None


def write_json_atomic(path: str, obj) -> None:
    """Write JSON so that a reader never sees half a file, even if we are killed mid-write."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
