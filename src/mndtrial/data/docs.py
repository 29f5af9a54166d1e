"""Render the data model (schema.py) as Markdown tables for `docs/data-model.md`.

    python -m mndtrial.data.docs > /tmp/tables.md

A test checks that the tables in `docs/data-model.md` are exactly what this renders, so the
documentation cannot drift from the schema.
"""

from __future__ import annotations

from .schema import ANALYTES, TABLES, Column

BEGIN, END = "<!-- schema:begin -->", "<!-- schema:end -->"


def _rule(col: Column) -> str:
    parts = []
    if col.allowed:
        parts.append("one of " + ", ".join(f"`{a}`" for a in col.allowed))
    if col.minimum is not None and col.maximum is not None:
        parts.append(f"{col.minimum:g} to {col.maximum:g}")
    elif col.minimum is not None:
        parts.append(f">= {col.minimum:g}")
    if col.multiple_of is not None:
        parts.append(f"in steps of {col.multiple_of:g}")
    if not col.nullable:
        parts.append("never missing")
    return "; ".join(parts)


def _span(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    if low is not None:
        return f">= {low:g}"
    return "" if high is None else f"<= {high:g}"


def render_tables() -> str:
    out = []
    for name, cols in TABLES.items():
        out.append(f"### `{name}`\n")
        out.append("| column | type | required | unit | rule | meaning |")
        out.append("|---|---|---|---|---|---|")
        for c in cols:
            out.append(f"| `{c.name}` | {c.kind} | {'yes' if c.required else 'no'} | {c.unit or ''} "
                       f"| {_rule(c)} | {c.description} |")
        out.append("")
    out.append("### Biomarker analytes, their units and ranges\n")
    out.append("| analyte | unit | range | meaning |")
    out.append("|---|---|---|---|")
    out += [f"| `{name}` | {a.unit} | {_span(a.minimum, a.maximum)} | {a.description} |" for name, a in ANALYTES.items()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render_tables(), end="")
