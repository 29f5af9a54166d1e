"""Errors that carry what went wrong, where, and which rule was broken.

Two kinds of bad input reach mndtrial: trial *data* (tables a user brings) and *parameters*
(designs, plans, options). Data errors name the table, column, subject and rule of every
problem found, not just the first; parameter errors name the parameter, its value and the rule,
in the manner of rpact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

__all__ = ["Problem", "problem_lines", "TrialDataError", "ParameterError", "ConfigFileError", "AnalysisError"]

MAX_PROBLEMS_SHOWN = 50


@dataclass(frozen=True)
class Problem:
    """One broken rule in one place of a trial's tables."""

    table: str
    rule: str
    message: str
    column: str | None = None
    subject_id: str | None = None
    value: Any = None
    row: int | None = None
    file: str | None = None  # the file the table was read from, where known

    def where(self, with_row: bool = True) -> str:
        """'table 'survival', column 'event', subject 'S01', data row 3' (data rows counted from 1
        under the header: a spreadsheet shows data row N as row N + 1)."""
        where = [f"table '{self.table}'" + (f" ({self.file})" if self.file else "")]
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.subject_id is not None and with_row:
            where.append(f"subject '{self.subject_id}'")
        if self.row is not None and with_row:
            where.append(f"data row {self.row + 1}")
        return ", ".join(where)

    def __str__(self) -> str:
        text = f"{self.where()}: {self.message} [rule: {self.rule}]"
        if self.value is not None:
            text += f" (value: {self.value!r})"
        return _one_line(text)


def _one_line(text: str) -> str:
    # one problem, one line: a newline inside an id, a value or a parser's message is escaped
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _short(value: Any, limit: int = 20) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def problem_lines(problems: Iterable[Problem], first_shown: int = 3) -> list[str]:
    """One line per problem, except that problems differing only in subject, row and value (the
    same rule broken in the same column, e.g. 30 events coded 2) share one line with their count
    and the first few subjects.

    Example:
        >>> ps = [Problem("survival", "allowed_values", "'event' must be one of 0, 1", "event", f"S{i}", 2, i)
        ...       for i in range(30)]
        >>> problem_lines(ps)
        ["table 'survival', column 'event': 30 rows: 'event' must be one of 0, 1 [rule: allowed_values] (first: 'S0', 'S1', 'S2', ... in data rows 1, 2, 3; value 2)"]
    """
    groups: dict[tuple, list[Problem]] = {}
    for p in problems:
        groups.setdefault((p.table, p.file, p.column, p.rule, p.message), []).append(p)
    lines = []
    for same in groups.values():
        if len(same) < 3:
            lines += [str(p) for p in same]
            continue
        head = same[:first_shown]
        more = ", ..." if len(same) > first_shown else ""
        ids = [repr(p.subject_id) for p in head if p.subject_id is not None]
        rows = [str(p.row + 1) for p in head if p.row is not None]
        values = list(dict.fromkeys(_short(p.value) for p in head if p.value is not None
                                    and str(p.value) != p.subject_id))
        first = [f"first: {', '.join(ids)}{more}"] if ids else []
        first += [f"{'in ' if ids else 'first: '}data rows {', '.join(rows)}{'' if ids else more}"] if rows else []
        first = [" ".join(first)] if first else []
        first += [f"value{'s' if len(values) > 1 else ''} {', '.join(values)}"] if values else []
        first = "; ".join(first)
        lines.append(_one_line(f"{same[0].where(with_row=False)}: {len(same)} rows: {same[0].message} "
                               f"[rule: {same[0].rule}]" + (f" ({first})" if first else "")))
    return lines


class TrialDataError(ValueError):
    """Trial tables that break the data model; `problems` lists every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        if not self.problems:
            raise ValueError("TrialDataError needs at least one problem")
        super().__init__(self._message())

    def __reduce__(self):
        return type(self), (self.problems,)

    def _message(self) -> str:
        n = len(self.problems)
        shown = problem_lines(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} in the trial data:"]
        lines += [f"  - {line}" for line in shown[:MAX_PROBLEMS_SHOWN]]
        if len(shown) > MAX_PROBLEMS_SHOWN:
            lines.append(f"  ... and {len(shown) - MAX_PROBLEMS_SHOWN} more lines (see .problems)")
        return "\n".join(lines)

    @property
    def rules(self) -> set[str]:
        return {p.rule for p in self.problems}


class ParameterError(ValueError):
    """A parameter of a design, plan or function that breaks a rule (rpact style)."""

    def __init__(self, parameter: str, value: Any, rule: str):
        self.parameter = parameter
        self.value = value
        self.rule = rule
        # one line whatever a key or value holds: the CLI prints the message as one line
        text = f"parameter '{parameter}' = {value!r}: {rule}"
        super().__init__(text.replace("\r", "\\r").replace("\n", "\\n"))

    def __reduce__(self):
        # rebuilt from what it carries, so the error crosses a process boundary (a worker, a
        # forked report writer) as itself: pickle's default would call __init__(message) alone
        return type(self), (self.parameter, self.value, self.rule)


class ConfigFileError(ParameterError):
    """A setting of a TOML file (plan, parameter file, design) that breaks a rule, located in the
    file: `str()` is one line, `FILE:LINE: message`, as compilers write it."""

    def __init__(self, parameter: str, value: Any, rule: str, file: str, line: int | None = None):
        super().__init__(parameter, value, rule)
        self.file = file
        self.line = line

    def __reduce__(self):
        return type(self), (self.parameter, self.value, self.rule, self.file, self.line)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.rule}".replace("\r", "\\r").replace("\n", "\\n")


class AnalysisError(ValueError):
    """An analysis that cannot be computed on these data, with the reason in words."""

    def __init__(self, analysis: str, reason: str):
        self.analysis = analysis
        self.reason = reason
        super().__init__(f"{analysis}: {reason}")

    def __reduce__(self):
        return type(self), (self.analysis, self.reason)
