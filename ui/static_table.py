"""A static table as one HTML element (st.html) instead of st.table.

st.table draws every cell, header and index label through its own markdown renderer (a React component with its
styled wrappers): the Architecture page's layer table, 20 rows of 11 columns, is over 240 of them, and a direct load
of the page spent a fifth to a third of its browser time less without them (docs/performance.md). One HTML
string is parsed by the browser in one step. Every text is HTML-escaped, so a user's class or file name is shown as
the text it is (no markdown to escape); cells keep their CSS (a heatmap's shade, a bar, a failing row)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import pandas as pd
import streamlit as st

from ui.lesson.session import presenting

# Streamlit's table look (light theme): a thin border, small type, grey headers; lines and header text are shades of
# the text's own colour, so a dark theme reads too. Presenting mode's large type is 0.6rem here, as st.table's was.
CSS = """<style>
.cnn-table-box { overflow-x: auto; border: 1px solid rgba(128, 128, 128, 0.25); border-radius: 0.5rem; }
.cnn-table { border-collapse: collapse; min-width: 100%; font-size: 0.875rem; line-height: 1.4; }
.cnn-table th, .cnn-table td { padding: 0.25rem 0.375rem; border: 1px solid rgba(128, 128, 128, 0.2);
  vertical-align: middle; text-align: left; font-weight: normal; max-width: 18rem; overflow-wrap: break-word; }
.cnn-table tr:first-child > * { border-top: none; } .cnn-table tr:last-child > * { border-bottom: none; }
.cnn-table tr > :first-child { border-left: none; } .cnn-table tr > :last-child { border-right: none; }
.cnn-table th { color: color-mix(in srgb, currentColor 65%, transparent); }
.cnn-table td.num { text-align: right; white-space: nowrap; }
.cnn-table-box.fit { display: inline-block; max-width: 100%; } .fit .cnn-table { min-width: 0; }
</style>"""
SHARE_BAR = "#c6dbef"  # a pale blue behind a share: the confusion matrix's scale, light enough to read dark text on
PRESENT_CSS = "<style>[data-testid='stMain'] .cnn-table { font-size: 0.6rem; }</style>"


def table_html(frame: pd.DataFrame, *, index: bool = True, style: Callable[[int, int, Any], str] | None = None,
               formats: dict[str, Callable[[Any], str]] | None = None, numeric: Sequence[str] = (),
               titles: dict[str, str] | None = None, label: str = "", header: bool = True, fit: bool = False) -> str:
    """`frame` as an HTML table: its index (if `index`) and column labels (if `header`) as headers (`titles`: a
    header's tooltip), each cell as `formats[column](value)` or its text ('' for a missing value), right-aligned if
    its column is numeric (or named in `numeric`), with CSS `style(row, column, value)`; `fit`: as wide as its
    cells (a small grid of numbers), not the column's width."""
    formats, titles = formats or {}, titles or {}
    right = {c for c in frame.columns if c in numeric or pd.api.types.is_numeric_dtype(frame[c])}

    def th(text: Any, scope: str, title: str = "") -> str:
        tip = f' title="{escape(title)}"' if title else ""
        return f'<th scope="{scope}"{tip}>{escape(str(text))}</th>'

    corner = [th(frame.index.name or "", "col")] if index else []
    head = "".join(corner + [th(c, "col", titles.get(c, "")) for c in frame.columns])
    rows = []
    for i, (name, values) in enumerate(zip(frame.index, frame.itertuples(index=False, name=None))):
        cells = [th(name, "row")] if index else []
        for j, (column, value) in enumerate(zip(frame.columns, values)):
            text = formats[column](value) if column in formats else "" if _missing(value) else str(value)
            css = style(i, j, value) if style else ""
            attrs = (' class="num"' if column in right else "") + (f' style="{escape(css)}"' if css else "")
            cells.append(f"<td{attrs}>{escape(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    aria = f' aria-label="{escape(label)}"' if label else ""
    thead = f"<thead><tr>{head}</tr></thead>" if header else ""
    box = "cnn-table-box fit" if fit else "cnn-table-box"
    return f'<div class="{box}"><table class="cnn-table"{aria}>{thead}<tbody>{"".join(rows)}</tbody></table></div>'


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array: not a missing value
        return False


def draw_table(html: str, key: str, where=st) -> None:
    """A table from `table_html`, with its style, in a container keyed `key` (a page's CSS and tests find it), in
    `where` (a column, say)."""
    where.container(key=key).html(CSS + (PRESENT_CSS if presenting() else "") + html)


def bar(share: float) -> str:
    """The CSS of a cell holding a share from 0 to 1: a pale bar that long behind its number (pandas' Styler.bar)."""
    end = f"{100 * min(max(share, 0.0), 1.0):.1f}%"
    return f"background: linear-gradient(90deg, {SHARE_BAR} {end}, transparent {end}) no-repeat center / 100% 70%"
