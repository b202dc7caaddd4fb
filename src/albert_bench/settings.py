"""Settings as typed dataclasses: each setting defined once (type, default, range, help) and the command line's
flags, the checks and the saved configs all read from that definition. `TrainConfig` (train), `ServeLimits`
(serve) and `AnswerSettings` (ask, evaluate, predict, serve, export) are built on it.

    setting(default, help, lo=, gt=, hi=, choices=)   a field; `lo`/`hi` inclusive bounds, `gt` exclusive
    problems(Cls, values)                              every problem with these values, one list
    check(obj)                                         for __post_init__: one BenchError naming every problem
    add_flags(parser, Cls)                             one --flag per field
"""

from __future__ import annotations

import argparse
import math
from dataclasses import field, fields

from .errors import several


def setting(default, help: str, **kw):
    """A dataclass field with its help text and checks (`lo`, `gt`, `hi`, `choices`) in its metadata."""
    return field(default=default, metadata={"help": help, **kw})


def like(cls, name: str):
    """A field defined as `cls`'s field `name` is (default, help, checks): one definition for a setting that
    several settings classes hold."""
    f = next(f for f in fields(cls) if f.name == name)
    return field(default=f.default, metadata=f.metadata)


def field_type(f) -> tuple[type, bool]:
    """(the Python type a field holds, whether None is allowed), from its annotation (a string under
    `from __future__ import annotations`, else the type)."""
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return {"int": int, "float": float, "bool": bool}.get(t.split(" ")[0], str), t.endswith("| None")


def flag(f) -> str:
    """A field's command-line flag: `--field-name`, or the `flag` in its metadata."""
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def problems(cls, values: dict, source: str = "") -> list[str]:
    """Every problem with these values for `cls`'s fields, by each field's type and range: wrong type, NaN or
    infinity, out of range, an empty string, not one of the choices. One list, so that all are said at once."""
    found = []
    for f in fields(cls):
        if f.name not in values:
            continue
        v, (want, optional) = values[f.name], field_type(f)
        name, shown = flag(f), repr(v)[:40]
        if v is None and optional:
            continue
        if want is bool:
            if not isinstance(v, bool):
                found.append(f"{name} {shown}: expected true or false")
            continue
        if want in (int, float) and (isinstance(v, bool) or not isinstance(v, (int, float) if want is float else int)):
            found.append(f"{name} {shown}: expected {'a whole number' if want is int else 'a number'}{source}")
            continue
        if want is str:
            if not isinstance(v, str):
                found.append(f"{name} {shown}: expected text (a path or name){source}")
            elif not v.strip():
                found.append(f"{name} is empty")
            elif "choices" in f.metadata and v not in f.metadata["choices"]:
                found.append(f"{name} {shown}: choose one of {', '.join(f.metadata['choices'])}")
            continue
        if not math.isfinite(v):
            found.append(f"{name} {shown}: expected a finite number")
            continue
        lo, gt, hi = f.metadata.get("lo"), f.metadata.get("gt"), f.metadata.get("hi")
        if (lo is not None and v < lo) or (gt is not None and v <= gt) or (hi is not None and v > hi):
            bounds = " and ".join(x for x in (f"at least {lo}" if lo is not None else "", f"above {gt}" if gt is not None else "",
                                              f"at most {hi:,}" if hi is not None else "") if x)
            found.append(f"{name} {shown}: expected {bounds}")
    return found


def check(obj) -> None:
    """Raise one BenchError naming every problem with a settings object's values (call it in __post_init__)."""
    if found := problems(type(obj), {f.name: getattr(obj, f.name) for f in fields(obj)}):
        raise several(found)


def add_flags(parser, cls, suppress: bool = False, only: tuple[str, ...] | None = None) -> None:
    """One flag per field of `cls` (or of those named in `only`), typed and with its help; the default said
    once. `suppress`: flags not given are absent from the parsed namespace (so a config file can fill them)."""
    for f in fields(cls):
        if only is not None and f.name not in only:
            continue
        text = f.metadata["help"]
        shown = "" if f.default is None or f.default is False or "default" in text else \
            f" (default: {f.default:,})" if isinstance(f.default, (int, float)) and not isinstance(f.default, bool) else f" (default: {f.default})"
        kw = {"help": text + shown, "default": argparse.SUPPRESS if suppress else f.default}
        want, _ = field_type(f)
        if want is bool:
            parser.add_argument(flag(f), action="store_true", **kw)
            continue
        kw["type"] = want
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
            kw["metavar"] = "{" + ",".join(f.metadata["choices"]) + "}"
        else:
            kw["metavar"] = {int: "N", float: "X"}.get(want, f.name.split("_")[-1].upper())
        parser.add_argument(flag(f), **kw)
