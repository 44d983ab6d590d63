"""Every page's "Reset to defaults" puts its settings back where they started."""

import pytest

PAGES = {  # page → (a widget's kind and key, a value other than its default)
    "app_pages/dataset.py": ("slider", "ds_size", 48),
    "app_pages/convolution.py": ("number_input", "conv_stride", 3),
    "app_pages/architecture.py": ("slider", "arch_num_blocks", 4),
    "app_pages/experiments.py": ("slider", "exp_seeds", 5),
}


@pytest.mark.parametrize("page", PAGES)
def test_reset_puts_the_page_back_to_its_defaults(app, page):
    kind, key, changed = PAGES[page]
    at = app(page)
    widget = lambda: getattr(at, kind)(key=key)  # noqa: E731
    default = widget().value
    widget().set_value(changed).run()
    assert widget().value == changed and not at.exception
    at.button(key=f"reset_{key.split('_')[0]}_").click().run()  # the button's key names the page's prefix
    assert not at.exception and widget().value == default


def test_the_evaluation_page_has_a_reset_too(app):
    at = app("app_pages/evaluation.py")
    assert any(b.key == "reset_ev_" for b in at.button) and not at.exception
