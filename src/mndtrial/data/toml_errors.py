"""Errors in the TOML files a user writes (analysis plan, parameter file, design, trial.toml), told
in one line that names the file, the line, the key and its table, with "did you mean ...".

`read_toml` reads and parses a file (invalid TOML names the file and line); `schema_of` turns a
pydantic model into the nested table of keys it accepts; `check_keys` refuses the first key a
schema does not know, with the nearest known name (difflib, as Python's own "did you mean");
`located` turns any `ParameterError` about a key path into a `ConfigFileError` at that key's line.

Example:
    >>> text = 'name = "x"\\nhorizon_day = 540\\n[subgroup]\\nenabled = false\\n'
    >>> check_keys(tomllib.loads(text), {"name": None, "horizon_days": None, "subgroups": {"enabled": None}},
    ...            "plan.toml", text)
    Traceback (most recent call last):
    ...
    mndtrial.errors.ConfigFileError: plan.toml:2: unknown key 'horizon_day' at the top level; did you mean 'horizon_days'?
    >>> nearest("CSF_pNfH", ["csf_pnfh", "serum_nfl"])
    'csf_pnfh'
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..errors import ConfigFileError, ParameterError

__all__ = ["ANY_KEY", "nearest", "did_you_mean", "read_toml", "toml_line", "table_name", "schema_of", "check_keys",
           "located", "dotted"]

Key = str | int
ANY_KEY = "*"  # in a schema: a table whose keys are free (`analyte_units`), each value checked by the sub-schema
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


def _fold(name: str) -> str:
    return re.sub(r"[\s\-.]+", "_", name.strip().lower())


def nearest(name: str, known: Iterable[str], fuzzy: bool = True) -> str | None:
    """The known name `name` was probably meant to be: the same but for case, blanks and hyphens,
    else (when `fuzzy`) difflib's closest match (ratio >= 0.6); None when nothing is close."""
    known = [k for k in known if isinstance(k, str)]
    folded = {_fold(k): k for k in known}
    if _fold(name) in folded:
        return folded[_fold(name)]
    if not fuzzy:
        return None
    close = difflib.get_close_matches(_fold(name), list(folded), n=1, cutoff=0.6)
    return folded[close[0]] if close else None


def did_you_mean(name: str, known: Iterable[str], quote: str = "'{}'") -> str:
    """'; did you mean 'x'?' (or '' when nothing is close), to end a message with."""
    match = nearest(name, known)
    return f"; did you mean {quote.format(match)}?" if match is not None else ""


def dotted(path: Sequence[Key]) -> str:
    """('biomarker_rules', 0, 'cutoff') -> 'biomarker_rules[0].cutoff'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def table_name(path: Sequence[Key]) -> str:
    """Where a key sits, in TOML's words: 'the top level', '[survival]', 'the 2nd [[biomarker_rules]]'."""
    if not path:
        return "the top level"
    if isinstance(path[-1], int):
        n = path[-1] + 1
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"the {n}{suffix} [[{'.'.join(str(p) for p in path[:-1])}]]"
    return f"[{'.'.join(str(p) for p in path)}]"


# -- where a key is in the text ---------------------------------------------------------------------
def _key_parts(text: str) -> list[str]:
    """'a."b c".d' -> ['a', 'b c', 'd'] (bare and quoted keys)."""
    return [next(g for g in m.groups() if g is not None)
            for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s"\']+)', text)]


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def _key_lines(text: str) -> dict[tuple[Key, ...], int]:
    """The line (1-based) of every table header and key in a TOML text, by full path.

    A small scanner rather than a parser: tomllib has checked the syntax already, so it only has
    to skip the insides of multi-line strings and arrays and count [[arrays of tables]]."""
    lines: dict[tuple[Key, ...], int] = {}
    table: tuple[Key, ...] = ()
    counts: dict[tuple[Key, ...], int] = {}
    depth = 0
    in_string: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if in_string:
            if in_string in raw:
                in_string = None
            continue
        line = _strip_comment(raw).strip()
        if depth > 0:
            depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
            continue
        if line.startswith("[["):
            name = tuple(_key_parts(line.strip("[] ")))
            counts[name] = counts.get(name, -1) + 1
            table = name + (counts[name],)
            lines.setdefault(table, number)
            lines.setdefault(name, number)
        elif line.startswith("["):
            table = tuple(_key_parts(line.strip("[] ")))
            lines.setdefault(table, number)
        elif "=" in line:
            key, value = line.split("=", 1)
            lines.setdefault(table + tuple(_key_parts(key)), number)
            value = value.strip()
            for mark in ('"""', "'''"):
                if value.startswith(mark) and value.count(mark) == 1:
                    in_string = mark
            depth = value.count("[") + value.count("{") - value.count("]") - value.count("}")
    return lines


def toml_line(text: str, path: Sequence[Key]) -> int | None:
    """The line of `path` in `text`, or of the nearest enclosing key or table written out.

    >>> toml_line('a = 1\\n[[rules]]\\nx = 1\\n[[rules]]\\ncutoff = 3\\n', ("rules", 1, "cutoff"))
    5
    """
    lines = _key_lines(text)
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


# -- reading ------------------------------------------------------------------------------------------
def read_toml(path: str | Path, what: str = "file") -> tuple[dict[str, Any], str]:
    """The parsed document and its text; a missing, non-UTF-8 or invalid file is one line naming it.

    >>> import tempfile
    >>> bad = Path(tempfile.mkdtemp()) / "plan.toml"
    >>> _ = bad.write_text("name = 'x'\\nhorizon_days = \\n")
    >>> read_toml(bad, "analysis plan")
    Traceback (most recent call last):
    ...
    mndtrial.errors.ConfigFileError: ...plan.toml:2: not valid TOML (Invalid value, at column 16)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigFileError(what, str(path), f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8",
                              str(path), line) from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POSITION.search(message)
        line = int(m.group(1)) if m else (text.count("\n") + 1 if "end of document" in message else None)
        reason = _TOML_POSITION.sub("", message).replace("(at end of document)", "").strip()
        column = re.search(r"column (\d+)", message)
        detail = f"{reason}, at column {column.group(1)}" if column else reason
        raise ConfigFileError(what, str(path), f"not valid TOML ({detail})", str(path), line) from None


# -- which keys a file may have ------------------------------------------------------------------------
Schema = Mapping[str, Any]  # key -> sub-schema (a Schema) or None (a value, not checked further)


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside an annotation (`X | None`, `tuple[X, ...]`, `dict[str, X]`), or None."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None:
        return None
    args = typing.get_args(annotation)
    if origin in (dict, Mapping) and len(args) == 2:
        inner = _model_of(args[1])
        return {ANY_KEY: schema_of(inner)} if isinstance(inner, type) else inner
    if origin in (typing.Union, types.UnionType, tuple, list, Sequence):
        for arg in args:
            inner = _model_of(arg)
            if inner is not None:
                return inner
    return None


def schema_of(model: Any) -> Schema | None:
    """The keys a pydantic model accepts, nested where a field is itself a model (None: any keys)."""
    if model is None or model.model_config.get("extra") != "forbid":
        return None
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        inner = _model_of(field.annotation)
        out[field.alias or name] = schema_of(inner) if isinstance(inner, type) else inner
    return out


def check_keys(data: Any, schema: Schema | None, file: str, text: str, path: tuple[Key, ...] = ()) -> None:
    """Refuse the first key (in file order) that `schema` does not know, in one line with its table,
    line and the nearest known name. Arrays of tables are checked element by element."""
    if schema is None:
        return
    if isinstance(data, list):
        for i, item in enumerate(data):
            check_keys(item, schema, file, text, path + (i,))
        return
    if not isinstance(data, dict):
        return
    known = [k for k in schema if k != ANY_KEY]
    for key, value in data.items():
        if key in schema:
            check_keys(value, schema[key], file, text, path + (key,))
        elif ANY_KEY in schema:
            check_keys(value, schema[ANY_KEY], file, text, path + (key,))
        else:
            where = path + (key,)
            line = toml_line(text, where)
            # a table written as a header ([x], [[x]]) is named as one; `x = {...}` is a key
            header = line is not None and text.splitlines()[line - 1].lstrip().startswith("[")
            is_table = isinstance(value, (dict, list)) and header
            if is_table:
                brackets = "[[{}]]" if isinstance(value, list) else "[{}]"
                prefix = "".join(f"{p}." for p in path if not isinstance(p, int))
                rule = (f"unknown table {brackets.format(prefix + str(key))}"
                        + did_you_mean(str(key), known, brackets.format(prefix + "{}")))
            else:
                where_in = f"in {table_name(path)}" if path else "at the top level"
                hint = did_you_mean(str(key), known)
                if not hint and len(", ".join(known)) <= 80:
                    hint = f"; known keys: {', '.join(known)}"
                rule = f"unknown key '{key}' {where_in}{hint}"
            raise ConfigFileError(dotted(where), value if not is_table else None, rule, file, line)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def located(exc: ParameterError, path: Sequence[Key], file: str, text: str, name: str | None = None) -> ConfigFileError:
    """`exc` (about the setting at `path`) as a one-line error at that setting's line of `file`."""
    name = name or (dotted(path) if path else None)
    value = "" if isinstance(exc.value, (dict, list, tuple)) or exc.value is None else f" = {_short(exc.value)}"
    rule = f"{name}{value}: {exc.rule}" if name else exc.rule
    return ConfigFileError(exc.parameter, exc.value, rule, file, toml_line(text, path))
