"""HTML building blocks shared by the trial and power reports: one self-contained page.

The page carries its CSS inline and its figures as base64 PNG `data:` URIs, so it opens with no
network and no other file; it loads no script and no web font.
"""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure

from ..errors import ParameterError
from .provenance import Provenance
from .render import render_figures

__all__ = ["Section", "ReportPage", "esc", "df_html", "figure_html", "absent_html", "fmt_num", "flatten",
           "provenance_section", "join", "key_values_html"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;
     color:#222;background:#fafafa;line-height:1.45}
header{background:#1d3557;color:#fff;padding:18px 32px}
header h1{margin:0 0 4px 0;font-size:1.5em} header p{margin:0;opacity:.85}
main{max-width:1100px;margin:0 auto;padding:8px 32px 48px}
nav{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 16px;margin:16px 0;display:flex;flex-wrap:wrap;row-gap:4px}
nav a{margin-right:14px;color:#1d3557;text-decoration:none;white-space:nowrap}
nav a.missing{color:#999;text-decoration:line-through}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:12px 20px;margin:16px 0;overflow-x:auto}
h2{font-size:1.2em;border-bottom:2px solid #e9eef5;padding-bottom:4px;color:#1d3557}
h3{font-size:1.0em;margin-bottom:4px}
table{border-collapse:collapse;margin:8px 0 12px;font-size:.88em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f8} td.num,th.num{text-align:right} td.num{white-space:nowrap} td:first-child{white-space:nowrap}
table.provenance td,table.provenance th{text-align:left}
.wide{overflow-x:auto}
figure{margin:8px 0 16px} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}
.absent{color:#8a5a00;background:#fff6e0;border-left:4px solid #e0a000;padding:6px 10px}
.note{color:#555;font-size:.9em}
.flow{display:flex;flex-direction:column;align-items:center;gap:6px;margin:10px 0}
.flow .row{display:flex;gap:18px;justify-content:center;flex-wrap:wrap}
.flow .box{border:1.5px solid #1d3557;border-radius:4px;padding:6px 12px;background:#f7f9fc;
           text-align:center;min-width:150px;font-size:.9em}
.flow .arrow{color:#1d3557;font-size:1.2em}
pre{background:#f4f4f4;padding:8px;overflow-x:auto;font-size:.85em}
code{font-size:.9em}
footer{color:#777;font-size:.8em;text-align:center;padding:16px}
"""


def esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def fmt_num(x: Any, digits: int = 4) -> str:
    """Numbers as 4 significant digits; missing as '–'; everything else as text."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return "–"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


# a cell that reads as a number ("0.85 (0.54, 1.35)", "< 0.001", "40/109", "–", "NR") is right-aligned
NUMERIC_CELL = re.compile(r"^(?:(?:<=|>=|[<>≤≥])\s?)?[-−+]?\d|^[–-]$|^NR$")


def df_html(df: pd.DataFrame, index: bool = False, caption: str | None = None, align_numbers: bool = True) -> str:
    """A DataFrame as an escaped HTML table: numbers right-aligned, text left (`align_numbers=False`:
    everything left, for a table of sentences).

    The markup is pandas `Styler`'s (`Styler(cell_ids=False).format(escape="html")`, no `<style>`
    block or id), written out here: rendering a Styler (jinja2) took ~40 ms a table and jinja2's
    import ~0.1 s; `tests/test_report_html.py` holds the two to the same bytes.
    """
    shown = df.copy()
    shown.columns = [str(c) for c in shown.columns]
    for c in range(shown.shape[1]):
        shown.isetitem(c, [fmt_num(v) for v in shown.iloc[:, c]])
    if index:
        shown.index = [fmt_num(v) for v in shown.index]
    if shown.columns.has_duplicates:  # Styler needs unique labels; the fallback keeps the plain writer
        table = shown.to_html(index=index, escape=True, border=0, na_rep="–")
    elif shown.shape[1] == 0:
        table = styler_table_html(shown, index, align_numbers)
    else:
        table = table_html(shown, index, align_numbers)
    return (f"<h3>{esc(caption)}</h3>" if caption else "") + f'<div class="wide">{table}</div>'


def _cell_classes(shown: pd.DataFrame, align_numbers: bool) -> list[list[str]]:
    """Per column, per row: "num" where the cell reads as a number (and numbers are aligned)."""
    return [["num" if align_numbers and NUMERIC_CELL.match(str(v)) else "" for v in shown.iloc[:, j]]
            for j in range(shown.shape[1])]


def _escape_cell(x: Any) -> str:
    # markupsafe's escaping, as Styler's format(escape="html"): &#34; and &#39; for the quotes
    return (str(x).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&#34;").replace("'", "&#39;"))


def table_html(shown: pd.DataFrame, index: bool, align_numbers: bool = True) -> str:
    """Styler's table markup for `shown` (cells already formatted as text; unique column labels)."""
    classes = _cell_classes(shown, align_numbers)
    numeric_column = [bool(col) and all(c == "num" for c in col) for col in classes]
    out = ['<table class="dataframe">\n  <thead>\n    <tr>\n']
    if index:
        out.append('      <th class="blank level0" >&nbsp;</th>\n')
    for j, name in enumerate(shown.columns):
        out.append(f'      <th class="col_heading level0 col{j}{" num" if numeric_column[j] else ""}" >'
                   f"{_escape_cell(name)}</th>\n")
    out.append("    </tr>\n  </thead>\n  <tbody>\n")
    for i in range(shown.shape[0]):
        out.append("    <tr>\n")
        if index:
            out.append(f'      <th class="row_heading level0 row{i}" >{_escape_cell(shown.index[i])}</th>\n')
        for j in range(shown.shape[1]):
            extra = f" {classes[j][i]}" if classes[j][i] else ""
            out.append(f'      <td class="data row{i} col{j}{extra}" >{_escape_cell(shown.iat[i, j])}</td>\n')
        out.append("    </tr>\n")
    out.append("  </tbody>\n</table>\n")
    return "".join(out)


def styler_table_html(shown: pd.DataFrame, index: bool, align_numbers: bool = True) -> str:
    """The same table through pandas' `Styler` (jinja2): the reference `table_html` is held to."""
    from pandas.io.formats.style import Styler

    classes = shown.map(lambda v: "num" if align_numbers and NUMERIC_CELL.match(str(v)) else "")
    styler = (Styler(shown, cell_ids=False, uuid="t").format(escape="html")
              .format_index(escape="html", axis=1).set_td_classes(classes))
    styler = styler.format_index(escape="html", axis=0) if index else styler.hide(axis="index")
    # no per-table <style> block or id: the page's CSS styles every table alike
    table = re.sub(r'<style type="text/css">\s*</style>\s*', "", styler.to_html())
    table = table.replace('<table id="T_t">', '<table class="dataframe">')
    for j, col in enumerate(shown.columns):  # a column of numbers has its heading over them
        if len(classes) and (classes[col] == "num").all():
            table = table.replace(f'class="col_heading level0 col{j}" ', f'class="col_heading level0 col{j} num" ')
    return table


def absent_html(text: str) -> str:
    return f'<p class="absent">{esc(text)}</p>'


def figure_html(png: bytes | str, alt: str, caption: str | None = None, name: str | None = None) -> str:
    """The figure as an `<img>` with its PNG inline (`png` bytes, or a placeholder text put in its place)."""
    data = png if isinstance(png, str) else base64.b64encode(png).decode("ascii")
    name_attr = f' data-figure="{esc(name)}"' if name else ""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure{name_attr}><img alt="{esc(alt)}" src="data:image/png;base64,{data}">{cap}</figure>'


@dataclass
class Section:
    """One report section: `body` HTML when its results exist, else `absent` says what is missing."""

    key: str
    title: str
    body: str | None = None
    absent: str | None = None

    @property
    def present(self) -> bool:
        return self.body is not None

    def html(self) -> str:
        inner = self.body if self.body is not None else absent_html(self.absent or "absent")
        return f'<section id="{esc(self.key)}"><h2>{esc(self.title)}</h2>{inner}</section>'


@dataclass
class ReportPage:
    """A report being assembled: sections plus the figures (kept to be saved as PNG and SVG)."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)
    # drawings made ahead (`report.ahead`), by fingerprint of the call that builds each figure
    drawn_ahead: dict[str, dict[str, bytes]] = field(default_factory=dict, repr=False)
    # True: a figure is built where it is drawn (side by side), not when the page adds it; the
    # page then holds no `Figure` for it (what `mndtrial analyze`'s report process does)
    defer_figures: bool = False
    _encoded: dict[str, dict[str, bytes]] = field(default_factory=dict, repr=False)
    _names: list[str] = field(default_factory=list, repr=False)  # every figure of the page, in order
    _deferred: dict[str, tuple[Any, str, str | None]] = field(default_factory=dict, repr=False)
    _not_drawn: dict[str, str] = field(default_factory=dict, repr=False)

    def add_figure(self, name: str, fig: Figure, alt: str, caption: str | None = None) -> str:
        """Keep the figure and return its embedded HTML.

        The PNG is not drawn here: the HTML holds a placeholder that `to_html` fills once every
        figure of the page is drawn, so that they can be drawn side by side (`render.render_figures`).
        """
        self.figures[name] = fig
        self._encoded.pop(name, None)
        self._keep_name(name)
        return figure_html(_placeholder(name), alt, caption, name)

    def _keep_name(self, name: str) -> None:
        if name not in self._names:
            self._names.append(name)

    def add_drawn(self, name: str, encoded: Mapping[str, bytes], alt: str, caption: str | None = None) -> str:
        """A figure already drawn (`{"png": bytes, ...}`, e.g. ahead of the page): kept as bytes, no `Figure`."""
        self.figures.pop(name, None)
        self._encoded[name] = dict(encoded)
        self._keep_name(name)
        return figure_html(_placeholder(name), alt, caption, name)

    def figure_or_drawn(self, name: str, make, alt: str, caption: str | None = None) -> str:
        """`add_figure(name, make(), ...)`, or the drawing made ahead when `make` is a `FigureCall`
        with every input the same as that drawing's."""
        from .ahead import drawn_for

        drawn = drawn_for(make, self.drawn_ahead)
        if drawn is not None:
            return self.add_drawn(name, drawn, alt, caption)
        if self.defer_figures:
            self._deferred[name] = (make, alt, caption)
            self._keep_name(name)
            return _element_placeholder(name)
        return self.add_figure(name, make(), alt, caption)

    def _render(self, formats: tuple[str, ...]) -> None:
        """Draw every figure not yet drawn in each of `formats` (one pass: PNG first, then SVG)."""
        from .ahead import drawn_for

        for name, (call, _, _) in self._deferred.items():  # drawn since the page was built
            drawn = None if name in self._encoded else drawn_for(call, self.drawn_ahead)
            if drawn is not None:
                self._encoded[name] = dict(drawn)
        missing = [n for n in self._names if n not in self.figures and n not in self._deferred
                   and not set(formats) <= set(self._encoded[n])]
        if missing:  # a figure drawn ahead in fewer formats: built again from nothing is not possible
            raise ParameterError("figure_formats", list(formats), f"figures {missing} were drawn ahead in "
                                                                  "other formats")
        todo = {n: f for n, f in self.figures.items() if not set(formats) <= set(self._encoded.get(n, {}))}
        todo.update({n: call for n, (call, _, _) in self._deferred.items()
                     if n not in self._not_drawn and not set(formats) <= set(self._encoded.get(n, {}))})
        done = render_figures(todo, formats, not_drawn=self._not_drawn)
        for name, encoded in done.items():
            kept = self._encoded.setdefault(name, {})
            for fmt, data in encoded.items():
                kept.setdefault(fmt, data)  # a PNG already in the page stays the one written

    def body_html(self) -> str:
        nav = "".join(f'<a href="#{esc(s.key)}"{"" if s.present else " class=missing"}>{esc(s.title)}</a>'
                      for s in self.sections)
        body = f"<nav>{nav}</nav>" + "".join(s.html() for s in self.sections)
        self._render(("png",))
        for name, (_, alt, caption) in self._deferred.items():
            reason = self._not_drawn.get(name)
            # as `html._figure_or_note` words a figure that cannot be built on these data
            element = (absent_html(f"figure not drawn: {reason}") if reason is not None
                       else figure_html(_placeholder(name), alt, caption, name))
            body = body.replace(_element_placeholder(name), element)
        for name in self._names:
            if name not in self._not_drawn:
                body = body.replace(_placeholder(name),
                                    base64.b64encode(self._encoded[name]["png"]).decode("ascii"))
        return body

    def to_html(self) -> str:
        from .. import __version__

        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{esc(self.title)}</title><style>{CSS}</style></head><body>"
                f"<header><h1>{esc(self.title)}</h1><p>{esc(self.subtitle)}</p></header>"
                f"<main>{self.body_html()}</main>"
                f"<footer>Made by mndtrial {esc(__version__)}. Aggregates only: no participant "
                "identifiers are shown.</footer></body></html>\n")

    def write(self, out_dir: str | Path, filename: str, figures_dir: str = "figures",
              write_figures: bool = True, figure_formats: Sequence[str] = ("png", "svg")) -> dict[str, Any]:
        """Write the page and (optionally) every figure in `figure_formats` under `figures_dir`.

        The page embeds the PNGs, so ("png",) draws each figure once; an SVG copy costs about
        half a PNG's drawing again.
        """
        formats = tuple(dict.fromkeys(["png", *figure_formats]))
        unknown = [f for f in formats if f not in ("png", "svg")]
        if unknown:
            raise ParameterError("figure_formats", list(figure_formats), "each must be 'png' or 'svg'")
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        # every format in one pass, so the figures are drawn side by side once
        self._render(formats if write_figures else ("png",))
        page = out / filename
        page.write_text(self.to_html(), encoding="utf-8")
        written: dict[str, list[Path]] = {}
        if write_figures:
            folder = out / figures_dir
            folder.mkdir(parents=True, exist_ok=True)
            for name in self._names:
                if name in self._not_drawn:
                    continue
                written[name] = []
                for fmt in formats:
                    path = folder / f"{name}.{fmt}"
                    path.write_bytes(self._encoded[name][fmt])  # the PNG is the one embedded in the page
                    written[name].append(path)
        return {"report": page, "figures": written}

    def notebook_html(self, height_px: int = 800) -> str:
        """The page in an iframe, so its CSS cannot restyle the notebook around it (Jupyter)."""
        return (f'<iframe srcdoc="{html.escape(self.to_html(), quote=True)}" '
                f'style="width:100%;height:{height_px}px;border:1px solid #ddd"></iframe>')

    def section_keys(self, present: bool | None = None) -> list[str]:
        return [s.key for s in self.sections if present is None or s.present == present]


def _element_placeholder(name: str) -> str:
    """What stands in for a whole figure built later: its `<figure>`, or the note saying why not."""
    return f"<!--mndtrial-figure-deferred:{base64.urlsafe_b64encode(name.encode()).decode('ascii')}-->"


def _placeholder(name: str) -> str:
    """What stands in a figure's `<img src>` until its PNG is drawn (text that HTML escaping keeps)."""
    return f"mndtrial-figure-pending:{base64.urlsafe_b64encode(name.encode()).decode('ascii')};"


def join(parts: Iterable[str]) -> str:
    return "".join(p for p in parts if p)


def key_values_html(items: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(fmt_num(v))}</td></tr>" for k, v in items.items())
    return f'<table class="provenance">{rows}</table>'


def flatten(d: Any, prefix: str = "", skip: tuple[str, ...] = ()) -> pd.DataFrame:
    """Nested results as (item, value) rows: the fallback display for results without a table."""
    rows: list[tuple[str, Any]] = []

    def walk(x: Any, path: str) -> None:
        if isinstance(x, Mapping):
            for k, v in x.items():
                if k not in skip:
                    walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(x, list) and len(x) <= 4 and all(not isinstance(v, (Mapping, list)) for v in x):
            rows.append((path, ", ".join("–" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)
                                         for v in x)))
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]")
        else:
            rows.append((path, x))

    walk(d, prefix)
    return pd.DataFrame(rows, columns=["item", "value"])


def provenance_section(prov: Provenance | Mapping[str, Any] | None) -> Section:
    s = Section("provenance", "Provenance and how to reproduce")
    if prov is None:
        s.absent = "absent: no provenance record was given"
        return s
    if isinstance(prov, Mapping):
        try:
            prov = Provenance.from_dict(prov)
        except KeyError:
            s.body = df_html(flatten(prov), caption="provenance")
            return s
    cmd = prov.reproduce()
    command = f"<p>Reproduce with:</p><pre>{esc(cmd)}</pre>" if cmd else ""
    s.body = command + prov.to_html(include_command=False)
    return s
