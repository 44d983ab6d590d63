"""ui/static_table.py: a table as one HTML element shows each text as the text it is, read back by the standard
library's HTML parser (tests/html_tables.py)."""

import pandas as pd

from tests.html_tables import parse_tables
from ui.static_table import table_html

HOSTILE = ["<img src=x onerror=alert(1)>", "**bold** [a](http://x)", "#", 'say "hi" & <b>']


def test_every_text_is_escaped_and_read_back_exactly():
    frame = pd.DataFrame({name: [name, 1] for name in HOSTILE}, index=pd.Index(HOSTILE[:2], name=HOSTILE[3]))
    html = table_html(frame, label=HOSTILE[0])
    assert "<img" not in html and "<b>" not in html
    (table,) = parse_tables(html)
    assert table.label == HOSTILE[0] and list(table.text.columns) == HOSTILE
    assert list(table.text.index) == HOSTILE[:2] and table.text.index.name == HOSTILE[3]
    assert table.text.iloc[0].tolist() == HOSTILE and table.text.iloc[1].tolist() == ["1"] * 4


def test_cells_take_their_format_style_and_blank_when_missing():
    frame = pd.DataFrame({"share": [0.25, None], "name": ["a", None]})
    html = table_html(frame, index=False, formats={"share": lambda v: "" if pd.isna(v) else f"{v:.0%}"},
                      style=lambda i, j, v: 'color: "red"' if i == 0 and j == 0 else "", titles={"share": "a <share>"})
    (table,) = parse_tables(html)
    assert table.text.to_numpy().tolist() == [["25%", "a"], ["", ""]]
    assert table.style.to_numpy().tolist() == [['color: "red"', ""], ["", ""]] and table.titles == {"share": "a <share>"}
    assert html.count('class="num"') == 2  # the numeric column, right-aligned
