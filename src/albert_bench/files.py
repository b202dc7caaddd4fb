"""Files in and out, the ground floor every stage may use: the one strict JSON parser (`parse_json`), the one
JSON rule for writing (`json_text`) and the one atomic write (`atomic_write`).

`parse_json` is what every JSON input goes through (files and HTTP bodies alike): it refuses, with one line a
person can act on, what `json.loads` would crash on (deep nesting, numbers of thousands of digits), take
silently (NaN, Infinity, 1e999 read as inf) or misreport (UTF-16 text, invalid UTF-8).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import stat
import warnings

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


def _object(limit: int | None):
    """JSON objects as dicts, refusing a key given twice (json keeps the last: a body's second "question", or a
    predictions file's second answer for one id, would win silently) and, with `limit`, more keys than that."""
    def pairs(items):
        if limit is not None and len(items) > limit:
            raise BenchError(f"an object with {len(items):,} keys; at most {limit} are expected here")
        obj = dict(items)
        if len(obj) != len(items):
            seen = set()
            twice = next(k for k, _ in items if k in seen or seen.add(k))
            raise BenchError(f"the key {twice[:60]!r} appears twice in one object; keep one")
        return obj
    return pairs


# "Not blank" as one pattern that Python's `re`, the OpenAPI schema's (ECMAScript) regex and the page agree on: a
# character outside white space (Python's `str.isspace`, listed out: JavaScript's `\S` differs on \x1c-\x1f) and
# outside the invisible ones `strip` keeps (zero-width U+200B-U+200D, U+2060-U+2064, U+FEFF; marks U+200E/U+200F; the
# soft hyphen, Mongolian vowel separator, Braille blank and Hangul fillers): a question of only those asks nothing.
NOT_BLANK = "[^\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u00ad\\u115f\\u1160\\u1680\\u180e\\u2000-\\u200f\\u2028\\u2029\\u202f\\u205f-\\u2064\\u2800\\u3000\\u3164\\ufeff\\uffa0]"
_NOT_BLANK = re.compile(NOT_BLANK)


def blank(text: str) -> bool:
    """Whether `text` holds nothing to read: only white space or zero-width characters (every input path's rule)."""
    return not _NOT_BLANK.search(text)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dir_sha256(path: str | os.PathLike) -> str:
    """One hash of the files directly in a folder (names and bytes; not its subfolders): a model directory."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        p = os.path.join(path, name)
        if os.path.isfile(p):
            h.update(f"{len(name)}:{name}:".encode() + bytes.fromhex(file_sha256(p)))
    return h.hexdigest()


def parse_json(data: bytes | str, max_keys: int | None = None):
    """Parse JSON text strictly. Raises `BenchError` with one line (no file name: callers add theirs) for
    text that is not UTF-8 (a UTF-8 BOM is accepted), empty, not JSON (line and column), nested too deeply,
    or holds NaN/Infinity, a number longer than `MAX_NUMBER_CHARS` characters or a key twice in one object (or,
    with `max_keys`, an object with more keys than that)."""
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
        return json.loads(text, parse_int=_number(int), parse_float=_number(float), parse_constant=_constant,
                          object_pairs_hook=_object(max_keys))
    except json.JSONDecodeError as e:
        raise BenchError(f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except RecursionError:
        raise BenchError("JSON nested too deeply (more than ~900 levels)") from None


def json_text(obj, indent: int | None = None, where: str = "") -> str:
    """JSON text of `obj`: the one rule for every JSON this tool writes. A number JSON cannot carry (NaN, an
    infinity: a diverged model) is written as null, with one warning naming `where`; no reader has to guess."""
    bad = 0

    def finite(v):
        nonlocal bad
        if isinstance(v, float) and not math.isfinite(v):
            bad += 1
            return None
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [finite(x) for x in v]
        return v

    try:
        return json.dumps(obj, ensure_ascii=False, indent=indent, allow_nan=False)
    except ValueError:  # rare: only then is the object walked
        text = json.dumps(finite(obj), ensure_ascii=False, indent=indent, allow_nan=False)
        _warn(f"{where or 'output'}: {bad:,} value(s) were NaN or infinite (a diverged model?); written as null")
        return text


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", what: str = "the file", then: str = "run the command again"):
    """The one way this tool replaces a file: yields a file open on a temporary name beside `path`, renamed onto
    `path` when the block ends without an error and removed otherwise. A reader sees the old file or the new one,
    never half of one, even if the process is killed. A failed write (disk full, a file-size limit, permissions)
    is one line naming `what`, the file and the space left; `then` says what to do after fixing it."""
    if os.path.isdir(path):
        raise BenchError(f"{path}: is a folder, where a file is to be written; move it away, then {then}")
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as fh:
            yield fh
        os.replace(tmp, path)
    except OSError as e:
        raise write_failed(what, path, e, then=then) from None
    finally:
        if os.path.isfile(tmp) or os.path.islink(tmp):  # ours, left by a failed write; never a folder someone put there
            os.remove(tmp)


def write_json_atomic(path: str, obj, then: str = "run the command again") -> None:
    """Write JSON so that a reader never sees half a file, even if we are killed mid-write."""
    write_json_set({path: obj}, then)


def write_json_set(files: dict[str, object], then: str = "run the command again") -> None:
    """Write several JSON files as one set: each in full under its temporary name first (`atomic_write`s entered
    together), then all renamed into place as the blocks end. A failure (disk full, a kill) while writing leaves the
    old set as it was: the writes take the time, the renames of files in one folder microseconds."""
    texts = {path: json_text(obj, indent=1, where=path) for path, obj in files.items()}
    with contextlib.ExitStack() as stack:
        handles = {path: stack.enter_context(atomic_write(path, then=then)) for path in texts}
        for path, fh in handles.items():
            try:
                fh.write(texts[path])
                fh.flush()
            except OSError as e:  # named here: every open atomic_write would otherwise take it for its own
                raise write_failed("the file", path, e, then=then) from None


# The most text one row of a data file, or a --context-file, may hold: a passage is a few kB; 1 MiB is already
# thousands of windows. ALBERT_BENCH_MAX_TEXT_BYTES raises it.
MAX_TEXT_BYTES = int(float(os.environ.get("ALBERT_BENCH_MAX_TEXT_BYTES", 1 << 20)))


def too_big(what: str, size: int | None, limit: int = MAX_TEXT_BYTES) -> BenchError:
    """`size` None: a stream (a device, a pipe) read up to one byte past the limit, its size unknown."""
    how = f"holds more than the {limit:,} bytes allowed" if size is None else f"is {size:,} bytes, above the {limit:,} allowed"
    return BenchError(f"{what} {how} (ALBERT_BENCH_MAX_TEXT_BYTES); split it into passages, or raise the limit")


def read_bytes(path: str, what: str, max_bytes: int | None = None) -> bytes:
    """A file's bytes, or one line saying why not (missing, a directory, unreadable, larger than `max_bytes`)
    and what to pass instead."""
    try:
        with open(path, "rb") as f:
            if max_bytes is None:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # unbounded: /dev/zero would be read forever
                    raise BenchError(f"{path}: not a regular file (a device or a pipe); save it to a file and pass {what}")
                return f.read()
            if (size := os.fstat(f.fileno()).st_size) > max_bytes:
                raise too_big(path, size, max_bytes)
            data = f.read(max_bytes + 1)  # a device or pipe (/dev/zero, /dev/stdin) says size 0: read no more than allowed
            if len(data) > max_bytes:
                raise too_big(path, None, max_bytes)
            return data
    except FileNotFoundError:
        raise BenchError(f"{path}: no such file; pass {what}") from None
    except IsADirectoryError:
        raise BenchError(f"{path}: is a directory; pass {what}") from None
    except PermissionError:
        raise BenchError(f"{path}: not readable (permission denied); fix its permissions or pass {what}") from None
    except OSError as e:
        raise BenchError(f"{path}: cannot be read ({e.strerror or e}); pass {what}") from None


def read_json(path: str, what: str):
    """The one JSON reader for files the user gives (SQuAD files, predictions, no-answer odds, run files, model
    configs): any failure is one line naming the file, what is wrong, and what to pass instead."""
    try:
        return parse_json(read_bytes(path, what))
    except BenchError as e:
        raise BenchError(str(e) if str(e).startswith(f"{path}: ") else f"{path}: {e}; pass {what}") from None


def read_text(path: str, what: str, max_bytes: int | None = None) -> str:
    """A UTF-8 text file (a UTF-8 BOM is dropped), or one line naming the file and its likely encoding."""
    data = read_bytes(path, what, max_bytes)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        guess = guess_encoding(data)
        raise BenchError(f"{path}: not UTF-8 text (invalid byte at position {e.start:,}"
                         + (f"; it looks like {guess}" if guess else "") + f"); save it as UTF-8 or pass {what}") from None


def read_jsonl(path: str, what: str, warn=None) -> list:
    """JSON Lines written by appending (metrics.jsonl): a torn last line, which a kill during the append
    leaves, is dropped with a warning; a bad line anywhere else is one-line error."""
    lines = read_text(path, what).splitlines()
    out = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(parse_json(line))
        except BenchError as e:
            if i == len(lines) - 1:
                (warn or _warn)(f"{path}: the last line is incomplete ({e}); reading the {len(out)} lines before it")
                break
            raise BenchError(f"{path}: line {i + 1}: {e}; pass {what}") from None
    return out


def _warn(message: str) -> None:
    """A warning attributed to the first caller outside this module (whichever reader or writer of it was called)."""
    import sys

    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, stacklevel=level)


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_kind(value) -> str:
    """The JSON name of a decoded value's type, for messages."""
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def lone_surrogate(text: str) -> int | None:
    """The position of the first lone surrogate in `text` (what a broken encoder or `\\ud800` in JSON leaves;
    no tokenizer or UTF-8 writer can take it), or None."""
    m = _SURROGATE.search(text)
    return m.start() if m else None


RUN_MARK = ".albert-bench-run"  # in a folder `train` created (rundir.MARK)
QA_CONFIG = "qa_config.json"  # a model directory's answering settings (model.QAConfig), its tuned threshold among them
MODEL_OWN_FILES = (QA_CONFIG, "model.safetensors", "pytorch_model.bin", "model.onnx")  # only a model holds these
MODEL_FILES = ("config.json", *MODEL_OWN_FILES)


def check_data_output(path: str, flag: str, kind: str = "dir") -> None:
    """`check_output`, and not into a training run's or a model's folder: data written there would sit among
    (or replace) files the run or model is made of."""
    check_output(path, flag, kind)
    check_not_in_model(path, flag, kind, marks=(RUN_MARK,), then="write data to another folder")


def check_not_in_model(path: str, flag: str, kind: str = "file", marks: tuple = (), then: str = "write it to another folder") -> None:
    """`path` (a `kind` output) not in a model's folder (a model's files, e.g. best/ whose README.md is the card
    `push` uploads), nor in one holding any of `marks` (RUN_MARK: a training run's)."""
    folder = os.path.realpath(path if kind == "dir" else os.path.dirname(os.path.abspath(path)))
    has = lambda d, name: os.path.exists(os.path.join(d, name))  # noqa: E731
    if os.path.isdir(folder):
        if held := [n for n in marks if has(folder, n)]:
            raise BenchError(f"{flag} {path}: {folder} holds a training run ({held[0]}); {then}")
        if not has(folder, RUN_MARK) and (held := [n for n in MODEL_FILES if has(folder, n)]):  # a run's own config.json is no model
            raise BenchError(f"{flag} {path}: {folder} holds a model ({held[0]}); {then}")
    above = os.path.dirname(folder)  # nor anywhere below a model (its weights or qa_config.json): push uploads it all
    while above != os.path.dirname(above):
        if held := [n for n in MODEL_OWN_FILES if has(above, n)]:
            raise BenchError(f"{flag} {path}: lies inside {above}, which holds a model ({held[0]}); {then}")
        above = os.path.dirname(above)


OUTPUTS_MARK = ".albert-bench-outputs"  # in an --out folder: what albert-bench wrote there, a file a line


def _stamp(path: str) -> str:
    st = os.lstat(path)
    return f"{st.st_size}\t{st.st_mtime_ns}"


def _ours(folder: str) -> dict[str, str]:
    """name → the size and modification time it had when albert-bench wrote it (the folder's OUTPUTS_MARK); a
    mark that is too large, unreadable or has lines of another shape counts for nothing there."""
    mark = os.path.join(folder, OUTPUTS_MARK)
    if not os.path.isfile(mark) or os.path.getsize(mark) > 1 << 20:
        return {}
    with open(mark, encoding="utf-8", errors="replace") as fh:
        rows = [line.rstrip("\r\n").lstrip("\ufeff").split("\t") for line in fh]
    return {r[0]: f"{r[1]}\t{r[2]}" for r in rows if len(r) == 3 and r[1].isdigit() and r[2].lstrip("-").isdigit()}


def check_ours(folder: str, flag: str, names) -> None:
    """Before writing `names` into `folder` (an --out folder): one line if one of them is already there and is not
    what albert-bench wrote (the folder's OUTPUTS_MARK names it with the size and time it had then). A user's own
    train.json or predictions.json, even one copied over an earlier output, is never replaced."""
    if not os.path.isdir(folder):
        return
    ours = _ours(folder)
    theirs = [n for n in names if os.path.lexists(p := os.path.join(folder, n)) and ours.get(n) != _stamp(p)]
    if theirs:
        raise BenchError(f"{flag} {folder}: already holds {', '.join(theirs)}, which albert-bench did not write there; "
                         f"pass a new or empty folder, or move {'it' if len(theirs) == 1 else 'them'} away")


def write_outputs(folder: str, flag: str, files: dict[str, object]) -> None:
    """Write an --out folder's JSON files as one set (`write_json_set`), checked again here, under the command's
    lock, since a user may have put a file there while the command worked; then named in its OUTPUTS_MARK (after:
    a stop between the two leaves files the next run refuses, never a name claimed for a file not written)."""
    check_ours(folder, flag, files)
    os.makedirs(folder, exist_ok=True)
    write_json_set({os.path.join(folder, name): obj for name, obj in files.items()})
    claim(folder, files)


def claim(folder: str, names) -> None:
    """Name `names` (written just now) in `folder`'s OUTPUTS_MARK, each with its size and time: later runs may
    replace them while they are as written (`check_ours`)."""
    ours = _ours(folder)
    ours.update({n: _stamp(os.path.join(folder, n)) for n in names if os.path.lexists(os.path.join(folder, n))})
    with atomic_write(os.path.join(folder, OUTPUTS_MARK), what="the folder's list of albert-bench outputs") as fh:
        fh.write("".join(f"{n}\t{v}\n" for n, v in sorted(ours.items())))


def check_output(path: str, flag: str, kind: str = "dir") -> None:
    """Before any long work: `path` can be written as a `kind` ("dir" or "file"), or one line saying why not."""
    if kind == "dir" and os.path.exists(path) and not os.path.isdir(path):
        raise BenchError(f"{flag} {path}: exists and is not a directory; pass a directory for the outputs")
    if kind == "file" and os.path.isdir(path):
        raise BenchError(f"{flag} {path}: is a directory; pass a file name")
    parent = os.path.abspath(path if kind == "dir" else os.path.dirname(os.path.abspath(path)))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise BenchError(f"{flag} {path}: {parent} is a file, not a directory; pass another location")
    if not os.access(parent, os.W_OK):
        raise BenchError(f"{flag} {path}: {parent} is not writable; pass another location")


def free_space(path: str) -> str:
    with contextlib.suppress(OSError):
        st = os.statvfs(path)
        return f"{st.f_bavail * st.f_frsize / 2**30:.2f} GiB free there"
    return "free space unknown"


def write_failed(what: str, path: str, err: BaseException, then: str = "continue with --resume") -> BenchError:
    """The one line for a write that failed (disk full, file too large, permission): what, where, the space left."""
    reason = getattr(err, "strerror", None) or str(err).splitlines()[0][:200]
    return BenchError(f"could not write {what} {path} ({reason}; {free_space(os.path.dirname(os.path.abspath(path)))}); "
                      f"free some space or fix the permissions, then {then}")


def _umask() -> int:
    """The process's umask, read without setting it (os.umask would change it for every thread for a moment)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status") as fh:
            return int(next(line for line in fh if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)  # no /proc: the brief swap is the only portable way
    os.umask(mask)
    return mask


def _modes_the_umask_allows(root: str) -> None:
    """Folders 0o777 and files 0o666 less the umask (755/644 under the usual 022), as `mkdir` and `open` make them:
    a temporary folder is 0700 (mkdtemp) and safetensors writes 0600, so a model written for a service account or
    a colleague to read would otherwise be readable by its writer alone."""
    mask = _umask()
    for folder, _, names in os.walk(root):
        os.chmod(folder, 0o777 & ~mask)
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                os.chmod(path, 0o666 & ~mask)


def replace_dir(tmp: str, final: str) -> None:
    """Put the finished folder `tmp` at `final` (same file system): a reader sees the old folder or the new one,
    never half of either; the old one is removed afterwards. The one way every stage replaces a folder
    (model directories, checkpoints, exports)."""
    import shutil
    import tempfile

    _modes_the_umask_allows(tmp)
    old = None
    if os.path.lexists(final):
        old = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(final)), prefix=".old-")
        os.replace(final, os.path.join(old, "x"))
    os.replace(tmp, final)
    if old:
        shutil.rmtree(old, ignore_errors=True)


_held_locks: dict[str, tuple] = {}  # lock file → (descriptor, path, remove when released, owner pid)


def hold(output: str, command: str, flag: str, is_dir: bool = False) -> None:
    """One writer per output: an OS lock (flock) for `output`, held until `release_all` (the CLI calls it when a
    command ends) or until this process exits, kill -9 included. A second command writing the same output stops at
    once in one line naming the process that holds it. The lock is `DIR/.lock` for a folder output (`is_dir`:
    train's run directory, kept), else `.NAME.lock` beside the output, removed when released. A lock file whose path no longer names the file locked (removed
    by its holder at exit) is taken again, so two writers never hold two different files."""
    import fcntl

    real = os.path.realpath(output)  # one lock however the output is spelt (".", "./d/..", an absolute path)
    try:
        if is_dir:
            os.makedirs(real, exist_ok=True)
            path = os.path.join(real, ".lock")
        else:
            os.makedirs(os.path.dirname(real), exist_ok=True)
            path = os.path.join(os.path.dirname(real), f".{os.path.basename(real)}.lock")
    except OSError as e:
        raise BenchError(f"{flag} {output}: cannot be made ({e.strerror or e}); pass another place") from None
    key = os.path.realpath(path)
    if key in _held_locks:
        return
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:  # e.g. a folder --out whose parent is read-only: the lock beside it cannot be made
            raise BenchError(f"{flag} {output}: its lock file {path} cannot be made ({e.strerror or e}); pass an --out whose "
                             "folder is writable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise BenchError(f"{output} is in use by {holder}; wait for it to finish, or pass another {flag}") from None
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # its holder removed it between our open and our lock: lock the file the path names now
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"process {os.getpid()} (albert-bench {command})\n".encode(), 0)
    _held_locks[key] = (fd, path, not is_dir, os.getpid())


def release_all() -> None:
    """Free every output this process holds (`hold`): the command line does it when a command ends (a library
    caller holds them until it calls this, or exits). Lock files beside outputs are removed while still held."""
    for key in list(_held_locks):
        fd, path, remove, pid = _held_locks.pop(key)
        if os.getpid() != pid:  # a forked child inherited the table, not the locks' ownership
            continue
        if remove:
            with contextlib.suppress(OSError):
                os.remove(path)  # while still held: a newcomer then locks a new file, checked in `hold`
        with contextlib.suppress(OSError):
            os.close(fd)


def check_not_input(output: str, out_flag: str, inputs: dict[str, str | None]) -> None:
    """An output may not be an input, nor hold one (a folder output), nor lie inside an input folder (a model
    directory being read): compared as resolved real paths, so links and `..` do not hide it. `inputs`: flag →
    path (None: not given; URLs and hub names are skipped)."""
    def inside(a: str, b: str) -> bool:  # a at or below b
        return a == b or a.startswith(b.rstrip(os.sep) + os.sep)

    out = os.path.realpath(output)
    for flag, path in inputs.items():
        if not path or "://" in path or not os.path.exists(path):
            continue
        src = os.path.realpath(path)
        if inside(out, src) or inside(src, out):
            raise BenchError(f"{out_flag} {output} would write over {flag} {path} (an output may not be an input, hold one, "
                             "or lie inside one); pass another place for the output")
