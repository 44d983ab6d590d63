"""Any text as a spec's JSON: a valid spec (which round-trips, and whose summary and cost are numbers) or a ValueError
with a short message, never another exception: not for deep nesting, huge or non-finite numbers, or junk."""

import json

from hypothesis import given
from hypothesis import strategies as st

from cnn_core.nets.budget import network_cost
from cnn_core.nets.layers import ARGS, LAYER_TYPES
from cnn_core.nets.spec import ModelSpec
from cnn_core.nets.summary import summarize

numbers = st.one_of(st.integers(-3, 70), st.integers(), st.integers(10**18, 10**40),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.5, 1e308, -0.0]))  # fmt: skip
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                           max_size=4), max_leaves=12)
layers = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(list(LAYER_TYPES)), values)},
    optional={name: st.one_of(numbers, values) for name in ARGS},
)
specs = st.fixed_dictionaries(
    {"layers": st.one_of(st.lists(layers, max_size=8), values)},
    optional={"input": st.one_of(st.lists(st.one_of(st.integers(-1, 300), numbers), min_size=0, max_size=4), values),
              "num_classes": st.one_of(st.integers(-1, 12), numbers, values), "extra": values},
)


def deep(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + "0" + closer * depth


texts = st.one_of(
    specs.map(lambda d: json.dumps(d, allow_nan=True)),
    values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.integers(1, 200_000).flatmap(lambda n: st.sampled_from([deep(n, "["), deep(n, '{"a":')])),
    st.integers(1, 5000).map(lambda n: '{"layers": [{"type": "relu", "inplace": ' + deep(n, "[") + "}]}"),
    st.integers(1, 5000).map(lambda n: '{"input": ' + deep(n, "[") + ', "layers": []}'),
    st.integers(4000, 6000).map(lambda n: '{"num_classes": ' + "9" * n + ', "layers": []}'),
    st.text(max_size=200),
)


@given(texts)
def test_any_text_is_a_valid_spec_or_a_value_error_with_a_short_message(text):
    try:
        spec = ModelSpec.from_json(text)
    except ValueError as exc:
        assert str(exc) and len(str(exc)) < 600
        return
    assert ModelSpec.from_json(spec.to_json()) == spec
    summary = summarize(spec)  # a valid spec may still break at a layer: that is the summary's error, not a crash
    if summary.ok:
        cost = network_cost(spec, batch_size=32)
        assert cost.training_bytes >= 0 and cost.params == summary.total_params


def test_the_deepest_nesting_and_the_longest_number_get_messages():
    for text, message in ((deep(100_000, "["), "nested too deeply"),
                          ('{"layers": [{"type": "relu", "x": ' + deep(900, "[") + "}]}", "takes no argument"),
                          ('{"input": ' + deep(500, "[") + ', "layers": []}', "characters)"),
                          ('{"num_classes": ' + "9" * 5000 + "}", "can't be read"),
                          ('{"layers": [{"type": "leakyrelu", "negative_slope": NaN}]}', "finite number")):  # fmt: skip
        try:
            ModelSpec.from_json(text)
        except ValueError as exc:
            assert message in str(exc), (message, str(exc)[:200])
        else:
            raise AssertionError(f"accepted {text[:60]}")
