"""A lesson in the URL: the dataset, the network and the training settings as query parameters, and a
presenting mode for a projector.

A teacher sets up the lesson, copies the link (`?dataset=shapes&rotation=45&arch=lenet5&lr=0.01…`, only what
differs from the defaults), and every student who opens it starts from exactly those settings. On load each
parameter is checked against the widget it feeds: an unknown name or a bogus value is dropped, an
out-of-range number is dropped, an in-range number between two steps snaps to the nearest step, each with a
notice; never a traceback. `hide=lr,epochs` or `show=lr,train` hides controls (as TensorFlow Playground's
`*_hide` parameters do) and `present=true` sets large type for a projector; both combine with `?embed=true`.

Streamlit 1.67 widgets can bind to query parameters themselves (`bind="query-params"`), but a bound widget
drops a bad value silently and removes its parameter when its page is left, so the lesson would not survive
a visit to another page. Instead the router writes the whole lesson after every run (`sync`) from what the
session holds, and reads a link once, when a session opens it (`open_link`).

The modules, lowest first: what a value may be (values), the lesson's parameters, checking a link and writing
one (params), the presenting view and each page's hideable intro (presenting), and the app's side that the
router calls: reading a link into the session, the URL and the "Copy link" control (session), and the
navigation whose links carry the lesson (nav). Only session keeps state; values, params and presenting's
`parse_view` and `view_css` never touch Streamlit.
"""
