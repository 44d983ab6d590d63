"""Any lesson-link query, fuzzed with Hypothesis: a checked link and notices, never an exception; every notice quotes
what the link said as code (no markdown link or image gets through) and cuts a long value short."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_core.data.config import DataConfig
from ui.lesson.params import PARAMS, VIEW_PARAMS, parse_link
from ui.lesson.presenting import parse_view, view_css
from ui.lesson.session import network_spec
from ui.lesson.values import MAX_ECHO

NAMES = [p.name for p in PARAMS] + list(VIEW_PARAMS)
NUMBERS = st.one_of(st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["1e999", "-inf", "nan", "0x10", "1_000", " 3 ", "", "1e-400", "３"]))  # fmt: skip
HOSTILE = st.sampled_from(["[Session expired — sign in](https://evil.example/login)", "![](https://evil.example/t.gif)",
                           "`x`](y)", "<img src=x onerror=alert(1)>", ":red[big]", "a" * 5000,
                           "circle,blob\n# title"])  # fmt: skip
VALUES = st.one_of(NUMBERS, HOSTILE, st.text(max_size=60), st.lists(st.text(max_size=10), max_size=3))
QUERIES = st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=20)), VALUES, max_size=8)
SETTINGS = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(QUERIES)
def test_any_query_gives_a_link_and_notices_never_an_exception(query):
    link = parse_link(query)
    data = link.data_config()  # every group that survives builds
    network = link.design() or link.arch.get("preset")
    if network is not None:
        network_spec(network, data if link.data else DataConfig())
    view = parse_view(link.view)
    view_css(view)
    for notice in [*link.notices, *view.notices]:
        assert len(notice) < 600, notice
        outside_code = re.sub(r"(`+) .*? \1", "", notice)  # what a notice says around the quoted values
        assert "](" not in outside_code and "<" not in outside_code, notice


@SETTINGS
@given(st.sampled_from([p.name for p in PARAMS]), HOSTILE)
def test_a_hostile_value_is_echoed_as_short_code(name, text):
    notices = parse_link({name: text}).notices
    assert notices, (name, text)
    assert all(text not in n or len(text) <= MAX_ECHO for n in notices)
    assert any(re.search(r"(`+) .+ \1", n) for n in notices)
