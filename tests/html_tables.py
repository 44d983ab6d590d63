"""Read the static tables a page draws (ui/static_table.py: one st.html element each) back as data frames of the texts
shown, with each cell's CSS, so that AppTest checks what a learner sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import pandas as pd


@dataclass
class Table:
    label: str  # the table's aria-label
    text: pd.DataFrame  # the cells' texts; the row headers (if any) are its index, named by the corner header
    style: pd.DataFrame  # each data cell's CSS ('' where none)
    titles: dict[str, str] = field(default_factory=dict)  # a column header's tooltip


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.cell: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"label": a.get("aria-label", ""), "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("th", "td"):
            self.cell = {"tag": tag, "scope": a.get("scope"), "style": a.get("style") or "", "title": a.get("title") or "",
                         "text": ""}  # fmt: skip
            self.tables[-1]["rows"][-1].append(self.cell)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td"):
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell["text"] += data


def parse_tables(html: str) -> list[Table]:
    parser = _Parser()
    parser.feed(html)
    out = []
    for t in parser.tables:
        rows = t["rows"]
        headed = bool(rows) and all(c["scope"] == "col" for c in rows[0])  # a table may have no header row
        head, body = (rows[0], rows[1:]) if headed else ([], rows)
        indexed = bool(body) and body[0][0]["scope"] == "row"
        width = len(body[0]) - indexed if body else 0
        columns = [c["text"] for c in (head[1:] if indexed else head)] if headed else list(range(width))
        cells = [row[1:] if indexed else row for row in body]
        index = pd.Index([row[0]["text"] for row in body], name=head[0]["text"] if headed else None) if indexed else None
        text = pd.DataFrame([[c["text"] for c in row] for row in cells], columns=columns, index=index)
        style = pd.DataFrame([[c["style"] for c in row] for row in cells], columns=columns, index=index)
        titles = {c["text"]: c["title"] for c in head if c["title"]}
        out.append(Table(t["label"], text, style, titles))
    return out


def page_tables(at) -> list[Table]:
    """Every static table on an AppTest page, in the page's order."""
    return [t for element in at.get("html") if "cnn-table" in element.proto.body for t in parse_tables(element.proto.body)]
