"""Errors that carry what went wrong, where, and which rule was broken.

Two kinds of bad input reach mndtrial: trial *data* (tables a user brings) and *parameters*
(designs, plans, options). Data errors name the table, column, subject and rule of every
problem found, not just the first; parameter errors name the parameter, its value and the rule,
in the manner of rpact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

__all__ = ["Problem", "TrialDataError", "ParameterError", "ConfigFileError", "AnalysisError"]

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

    def __str__(self) -> str:
        where = [f"table '{self.table}'"]
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.subject_id is not None:
            where.append(f"subject '{self.subject_id}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        text = f"{', '.join(where)}: {self.message} [rule: {self.rule}]"
        if self.value is not None:
            text += f" (value: {self.value!r})"
        # one problem, one line: a newline inside an id, a value or a parser's message is escaped
        return text.replace("\r", "\\r").replace("\n", "\\n")


class TrialDataError(ValueError):
    """Trial tables that break the data model; `problems` lists every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        if not self.problems:
            raise ValueError("TrialDataError needs at least one problem")
        super().__init__(self._message())

    def _message(self) -> str:
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} in the trial data:"]
        lines += [f"  - {p}" for p in self.problems[:MAX_PROBLEMS_SHOWN]]
        if n > MAX_PROBLEMS_SHOWN:
            lines.append(f"  ... and {n - MAX_PROBLEMS_SHOWN} more (see .problems)")
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


class ConfigFileError(ParameterError):
    """A setting of a TOML file (plan, parameter file, design) that breaks a rule, located in the
    file: `str()` is one line, `FILE:LINE: message`, as compilers write it."""

    def __init__(self, parameter: str, value: Any, rule: str, file: str, line: int | None = None):
        super().__init__(parameter, value, rule)
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.rule}".replace("\r", "\\r").replace("\n", "\\n")


class AnalysisError(ValueError):
    """An analysis that cannot be computed on these data, with the reason in words."""

    def __init__(self, analysis: str, reason: str):
        self.analysis = analysis
        self.reason = reason
        super().__init__(f"{analysis}: {reason}")
