"""A student without a browser: Streamlit 1.67's own websocket protocol, spoken from Python (asyncio).

What a browser's Streamlit frontend does, as read from the installed server (web/server/starlette/
starlette_websocket.py, runtime/app_session.py, runtime/scriptrunner_utils/script_run_context.py) and the
frontend bundle's `sendRerunBackMsg`, `onPageChange`, `WidgetStateManager` and `ForwardMessageCache`:

- opening a page: GET the page's HTML and the static files a cold browser fetches (the caller's list, else those
  the HTML names), /_stcore/health and /_stcore/host-config, then the websocket /_stcore/stream (subprotocol
  "streamlit") and one `rerun_script` BackMsg with the URL's query string and path (`page_name`), no page hash
  and no widget states;
- a widget change: `rerun_script` with the current page's hash (the `navigation` message's), the query string
  the server last wrote (`page_info_changed`), and the value of every widget on the page (each widget's element
  carries its value: `value`/`raw_value` where `set_value`, else its default), the changed one new;
- a click on a page link: `rerun_script` with the link's page hash and query string and the values of the
  widgets the router drew (elements of the main script), as `onPageChange` keeps them;
- every `rerun_script` lists the hashes of the cacheable messages kept (the server then sends `ref_hash`
  references for them); a kept message is dropped after `max_cached_message_age` runs without use;
- a run is done at its `script_finished` (successfully, or with a compile error), not at one ended early for a
  rerun; elements a full run did not send are dropped then; images (`imgs` elements, /media/… URLs) are fetched
  over HTTP as they arrive, each URL once;
- HTTP as a browser over HTTP/1.1: at most 6 requests at a time, on kept-alive connections.

Not done (no drawing, so nothing asks for them): the chunks of JavaScript a browser loads later for other pages'
elements, `app_heartbeat`s, fragment auto-reruns, and widgets of kinds the lesson pages don't draw (a step that
meets one reports it as unmapped).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
import time
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

DONE = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}
BROWSER_HEADERS = {"User-Agent": "cnn-lab-protocol-student", "Accept": "*/*", "Accept-Encoding": "gzip, deflate, br"}
ASSET = re.compile(r'(?:src|href)="\./(static/[^"]+)"')
INLINE_IMAGE = re.compile(r'src="(data:image/[^"]+)"')  # an image inside an st.html element: no file to fetch


async def http_get(reader, writer, host: str, port: int, path: str) -> tuple[int, bytes, bool]:
    """(status, the whole response, whether the connection stays open) of one GET on a kept-alive connection."""
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **BROWSER_HEADERS}.items())
    writer.write(f"GET {path} HTTP/1.1\r\n{head}\r\n".encode())
    await writer.drain()
    header = await reader.readuntil(b"\r\n\r\n")
    fields = dict(line.split(":", 1) for line in header.decode("latin-1").lower().split("\r\n")[1:] if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    if "content-length" in fields:
        data = await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding") == "chunked":
        chunks = []
        while size := int((await reader.readline()).split(b";")[0], 16):
            chunks.append((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")  # the empty trailer
        data = b"".join(chunks)
    else:
        return int(header.split(b" ", 2)[1]), header + await reader.read(), False
    return int(header.split(b" ", 2)[1]), header + data, fields.get("connection") != "close"


def body(response: bytes) -> bytes:
    """The body of an HTTP response read whole, gunzipped where it came gzipped."""
    head, _, data = response.partition(b"\r\n\r\n")
    return gzip.decompress(data) if b"content-encoding: gzip" in head.lower() else data


def widget_state(element) -> object | None:
    """The WidgetState a frontend holds for a widget element (its shown value), or None for a button or an
    element that is no widget. Only the kinds the lab's lesson pages draw; others are counted as `unmapped`."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    kind = element.WhichOneof("type")
    el = getattr(element, kind)
    state = WidgetState(id=getattr(el, "id", ""))
    if kind == "slider":
        state.double_array_value.data[:] = el.value if el.set_value else el.default
    elif kind == "number_input":
        value = el.value if el.set_value else el.default
        if el.data_type == el.INT:
            state.int_value = int(value)
        else:
            state.double_value = value
    elif kind in ("selectbox", "radio"):
        if el.set_value:
            state.string_value = el.raw_value
        elif 0 <= el.default < len(el.options):
            state.string_value = el.options[el.default]
        else:
            return None  # no choice yet: the frontend holds no value
    elif kind == "multiselect":
        state.string_array_value.data[:] = el.raw_values if el.set_value else [el.options[i] for i in el.default]
    elif kind == "checkbox":
        state.bool_value = el.value if el.set_value else el.default
    else:
        return None
    return state


WIDGETS = {"slider", "number_input", "selectbox", "radio", "multiselect", "checkbox"}
TRIGGERS = {"button", "download_button", "form_submit_button", "page_link"}  # no value until pressed


def holds_state(kind: str, el) -> bool:
    """Whether the frontend keeps a widget state for an element that is neither a mapped widget nor a trigger: one
    with an id, unless a chart or table that takes no selection."""
    if kind in WIDGETS or kind in TRIGGERS or not getattr(el, "id", ""):
        return False
    return bool(getattr(el, "selection_mode", True))


class Student:
    """One student's session: a websocket, the page's elements as a frontend holds them, and timed steps."""

    def __init__(self, url: str, timeout_s: float = 300):
        parts = urlsplit(url)
        self.url, self.host, self.port, self.timeout_s = url, parts.hostname, parts.port, timeout_s
        self.ws = None
        self.elements: dict[tuple, tuple] = {}  # delta path -> (Element, script hash that drew it, run number)
        self.cache: dict[str, list] = {}  # hash -> [ForwardMsg, run count when last used]
        self.runs, self.max_age = 0, 2
        self.query, self.path, self.page_hash, self.main_hash = "", "", "", ""
        self.exceptions: list[str] = []
        self.unmapped: set[str] = set()
        self.widgets: dict[str, object] = {}  # widget id -> WidgetState, as the frontend's WidgetStateManager holds
        self.fetches: list[asyncio.Task] = []
        self.fetching = asyncio.Semaphore(6)  # a browser's connections to one host over HTTP/1.1
        self.idle: list[tuple] = []  # kept-alive connections, free
        self.fetched: set[str] = set()
        self.bytes_in = 0
        self.http_errors: list[str] = []

    async def get(self, path: str) -> bytes:
        """GET `path` as a browser does: at most 6 at a time, on kept-alive connections (a new one where none is
        idle, and again on a new one where the server had closed an idle one)."""
        async with self.fetching:
            for attempt in range(2):
                fresh = not self.idle or attempt
                reader, writer = await asyncio.open_connection(self.host, self.port) if fresh else self.idle.pop()
                try:
                    status, data, keep = await http_get(reader, writer, self.host, self.port, path)
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    writer.close()
                    if fresh:
                        raise
            if keep:
                self.idle.append((reader, writer))
            else:
                writer.close()
        self.bytes_in += len(data)
        if status != 200:
            self.http_errors.append(f"GET {path}: {status}")
        return data

    def fetch(self, path: str) -> None:
        if path not in self.fetched:
            self.fetched.add(path)
            self.fetches.append(asyncio.create_task(self.get(path)))

    async def open(self, path: str, query: str, assets: list[str] | None = None) -> dict:
        """Open `path?query` as a fresh tab does: page ready = until the run finished and its images arrived.
        `assets`: the static files to fetch (a cold browser's list); None: those the page's HTML names."""
        start = time.perf_counter()
        html = body(await self.get(f"/{path}?{query}")).decode(errors="replace")
        for asset in [f"/{a}" for a in ASSET.findall(html)] if assets is None else assets:
            self.fetch(asset)
        for check in ("/_stcore/health", "/_stcore/host-config"):  # the frontend asks both before it connects
            await self.get(check)
        ws_url = self.url.replace("http", "ws", 1) + "/_stcore/stream"
        # a browser sends no websocket pings
        self.ws = await connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=self.timeout_s,
                                origin=self.url, ping_interval=None)  # fmt: skip
        self.query, self.path = query, path
        return await self._rerun(start, page_name=path, widgets=[])

    def widget(self, key: str):
        """The element of the widget with user key `key` on the page."""
        for element, _, _ in self.elements.values():
            kind = element.WhichOneof("type")
            if kind in WIDGETS and getattr(element, kind).id.endswith(f"-{key}"):
                return element
        raise KeyError(f"no widget with key {key!r} on the page")

    def images(self) -> set[str]:
        """The page's images: st.image's URLs, and a digest of each inline one (an HTML element's data URI)."""
        urls = {img.url for e, _, _ in self.elements.values() if e.WhichOneof("type") == "imgs" for img in e.imgs.imgs}
        inline = {hashlib.sha1(uri.encode()).hexdigest() for e, _, _ in self.elements.values()
                  if e.WhichOneof("type") == "html" for uri in INLINE_IMAGE.findall(e.html.body)}  # fmt: skip
        return urls | inline

    def page_links(self) -> dict[str, object]:
        return {e.page_link.page: e.page_link for e, _, _ in self.elements.values() if e.WhichOneof("type") == "page_link"}

    def _states(self, main_only: bool = False) -> list:
        """The widget states to send: those of the widgets on the page (or of the router's widgets only)."""
        shown = {getattr(getattr(e, e.WhichOneof("type")), "id", ""): h for e, h, _ in self.elements.values()}
        return [state for wid, state in self.widgets.items()
                if wid in shown and (not main_only or shown[wid] == self.main_hash)]  # fmt: skip

    async def change_slider(self, key: str, step_sign: int) -> dict:
        """Move a slider one step (+1 right, -1 left), as an arrow key on its thumb does, and time the rerun."""
        start = time.perf_counter()
        el = self.widget(key).slider
        held = self.widgets[el.id].double_array_value.data
        held[:] = [min(el.max, max(el.min, round(held[0] + step_sign * el.step, 10)))]
        return await self._rerun(start, page_hash=self.page_hash, widgets=self._states())

    async def visit(self, path: str) -> dict:
        """Click the navigation's link to the page at URL path `path` (a page change in the same session)."""
        start = time.perf_counter()
        link = self.page_links()[path]
        self.query, self.path = link.query_string, path
        return await self._rerun(start, page_hash=link.page_script_hash, widgets=self._states(main_only=True))

    async def _rerun(self, start: float, page_hash: str = "", page_name: str = "", widgets=()) -> dict:
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string, rerun.page_script_hash, rerun.page_name = self.query, page_hash, page_name
        rerun.widget_states.widgets.extend(widgets)
        rerun.cached_message_hashes[:] = list(self.cache)
        info = rerun.context_info
        info.timezone, info.timezone_offset, info.locale, info.color_scheme = "UTC", 0, "en-US", "light"
        info.url = f"{self.url}/{self.path}?{self.query}"
        bytes0, exceptions0 = self.bytes_in, len(self.exceptions)
        await self.ws.send(msg.SerializeToString())
        finished = await asyncio.wait_for(self._until_finished(), self.timeout_s)
        server = time.perf_counter() - start
        pending, self.fetches = self.fetches, []
        await asyncio.wait_for(asyncio.gather(*pending), self.timeout_s)
        return {"ms": 1000 * (time.perf_counter() - start), "server_ms": 1000 * server, "media": len(pending),
                "images": len(self.images()),
                "kb": (self.bytes_in - bytes0) / 1024, "exceptions": len(self.exceptions) - exceptions0,
                "status": finished}  # fmt: skip

    async def _until_finished(self) -> int:
        """Read ForwardMsgs until a run is done; returns its script_finished status."""
        run_start = None
        while True:
            data = await self.ws.recv()
            self.bytes_in += len(data)
            msg = ForwardMsg.FromString(data)
            kind = msg.WhichOneof("type")
            if kind == "ref_hash":
                kept = self.cache[msg.ref_hash]
                kept[1] = self.runs
                metadata, msg = msg.metadata, ForwardMsg.FromString(kept[0].SerializeToString())
                msg.metadata.CopyFrom(metadata)
                kind = msg.WhichOneof("type")
            elif msg.metadata.cacheable and msg.hash:
                self.cache.setdefault(msg.hash, [msg, self.runs])[1] = self.runs
            if kind == "new_session":
                run_start = self.runs + 1
                self.main_hash = msg.new_session.main_script_hash
                self.max_age = msg.new_session.config.max_cached_message_age or self.max_age
            elif kind == "navigation":
                self.page_hash = msg.navigation.page_script_hash
            elif kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg, run_start or self.runs + 1)
            elif kind == "session_event" and msg.session_event.WhichOneof("type") == "script_compilation_exception":
                self.exceptions.append(msg.session_event.script_compilation_exception.message[:300])
            elif kind == "script_finished" and msg.script_finished in DONE:
                self.runs += 1
                self.elements = {p: v for p, v in self.elements.items() if v[2] == self.runs}  # stale ones go
                shown = {getattr(getattr(e, e.WhichOneof("type")), "id", "") for e, _, _ in self.elements.values()}
                self.widgets = {w: state for w, state in self.widgets.items() if w in shown}  # removeInactive
                self.cache = {h: v for h, v in self.cache.items() if self.runs - v[1] <= self.max_age}
                return msg.script_finished

    def _element(self, msg, run: int) -> None:
        element = msg.delta.new_element
        kind = element.WhichOneof("type")
        self.elements[tuple(msg.metadata.delta_path)] = (element, msg.metadata.active_script_hash, run)
        if kind == "exception":
            self.exceptions.append(f"{element.exception.type}: {element.exception.message[:300]}")
        elif kind in WIDGETS:
            # a widget's value is set when it first shows and when the script sets it; otherwise the user's stays
            wid = getattr(element, kind).id
            if wid not in self.widgets or getattr(element, kind).set_value:
                state = widget_state(element)
                if state is not None:
                    self.widgets[wid] = state
        elif holds_state(kind, getattr(element, kind)):
            self.unmapped.add(kind)
        elif kind == "imgs":
            for img in element.imgs.imgs:
                if img.url.startswith("/"):
                    self.fetch(img.url)

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        if self.ws is not None:
            await self.ws.close()
