"""What a user typed, uploaded or named (file names, class names, run and learner names, and the messages that quote
them) shown in Streamlit's markdown elements as the text it is, never rendered: no link, image, HTML, colour,
icon, formula or emphasis can come from it. Pages put `plain(value)` where a user's value goes into a message."""

from __future__ import annotations

import re
from typing import Any

# The characters that make markdown (CommonMark and GFM), HTML, LaTeX and Streamlit's :colour[...] / :material/...:
# directives out of text; each is escaped with a backslash, which CommonMark allows before any ASCII punctuation.
# Not "_": inside a word (out_channels, my_photo.png) it never emphasises, and escaping it would garble the names
# that messages quote most; around a word it can only make italics.
ACTIVE = re.compile(r"([\\`*\[\]<>~$|#{}])")
AUTOLINK = re.compile(r"(?i)(?<=www)\.|:(?=//)|:(?=[\w/-]+[\[:])")  # www.x and x://y become links; :name[ a directive
MAX_LENGTH = 300  # characters of one value shown; the rest is cut, saying how long it was


def plain(value: Any, most: int = MAX_LENGTH) -> str:
    """`value` as markdown that shows exactly its text, on one line, cut to `most` characters."""
    text = "".join(c if c.isprintable() else " " for c in str(value))
    if len(text) > most:
        text = f"{text[:most]}… ({len(text):,} characters)"
    return AUTOLINK.sub(lambda m: "\\" + m.group(0), ACTIVE.sub(r"\\\1", text))
