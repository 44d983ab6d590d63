"""A local training worker: `python -m cnn_core.runs.worker`, started by `cnn_core.runs.local.LocalExecutor`.

A fresh interpreter, not a fork or a multiprocessing child: it runs nothing of the process that starts it
(in the app, Streamlit's `__main__` is a page script). The handshake, before torch is imported:
1. the parent writes a random key (hex) and a line break to this process's stdin;
2. this process listens on a fresh local address (a Unix socket, or a named pipe on Windows) with that key
   and writes the address as one JSON line to stdout;
3. the parent connects; from then on both ends exchange pickled messages (`worker_loop`), and this
   process's stdout is its stderr, so that nothing else ever reaches the handshake's pipe.

`WorkerProcess` is the parent's end: it starts one worker and connects; `exit_text` says how one ended.

`--nice N` lowers this process's CPU priority first (the app's workers: its web server goes first), so that
every thread it starts, torch's included, inherits it (on Linux a nice value belongs to a thread).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Client, Listener
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cnn_core.runs.request import RunHandle

CONNECT_WITHIN = 60.0  # seconds the server has to connect, else this process ends
WORKER_COMMAND = (sys.executable, "-m", "cnn_core.runs.worker")  # how a worker starts (the fault tests change it)
START_WITHIN = 60.0  # seconds a new worker has to say where it listens, else it is ended


def exit_text(code: int | None) -> str:
    """A worker's exit status in words."""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        hint = ": often the server running out of memory" if -code == signal.SIGKILL else ""
        return f"killed by signal {name}{hint}"
    return f"exit code {code}"


class WorkerProcess:
    """One worker process (`python -m cnn_core.runs.worker`, a fresh interpreter) and the run it is training."""

    def __init__(self, nice: int = 0) -> None:
        from cnn_core.runs.request import PACKAGE

        key = os.urandom(32)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE.parent),
                                                                          os.environ.get("PYTHONPATH")]))}  # fmt: skip
        command = [*WORKER_COMMAND, *(["--nice", str(nice)] if nice else [])]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        give_up = threading.Timer(START_WITHIN, self.process.kill)  # a worker that never answers is ended
        give_up.daemon = True
        give_up.start()
        try:
            with self.process.stdin, self.process.stdout:
                self.process.stdin.write(key.hex().encode() + b"\n")
                self.process.stdin.flush()
                line = self.process.stdout.readline()
        except OSError:  # it ended before reading its key
            line = b""
        finally:
            give_up.cancel()
        try:
            if not line:
                raise ValueError(f"it ended at once ({exit_text(self.process.wait())}; "
                                 "its error output is in the server's log)")  # fmt: skip
            self.conn = Client(json.loads(line), authkey=key)
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise
        self.handle: RunHandle | None = None  # the executor's bookkeeping: the run it trains, its token, and
        self.token = 0
        self.begun = False  # whether the worker has said that it took that run

    def alive(self) -> bool:
        return self.process.poll() is None

    def reap(self) -> int:
        """The exit code of a worker whose connection broke (one that still lives is ended: its run is lost)."""
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def end(self) -> None:
        """Ask the worker to quit, then make sure it has (a run in progress stops first)."""
        with contextlib.suppress(OSError):
            self.conn.send(None)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        with contextlib.suppress(OSError):  # the reader thread may be closing it too, having seen the worker end
            self.conn.close()


def main() -> None:
    if sys.argv[1:2] == ["--nice"] and hasattr(os, "nice"):  # POSIX; Windows has no nice values
        os.nice(int(sys.argv[2]))
    key = bytes.fromhex(sys.stdin.readline().strip())
    # Ctrl-C in a terminal reaches the whole process group: the parent stops the run, which keeps its model
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    give_up = threading.Timer(CONNECT_WITHIN, os._exit, [3])  # a server that dies before connecting leaves no worker
    give_up.daemon = True
    give_up.start()
    with Listener(authkey=key) as listener:
        sys.stdout.write(json.dumps(listener.address) + "\n")
        sys.stdout.flush()
        conn = listener.accept()
    give_up.cancel()
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    worker_loop(conn)


def worker_loop(conn) -> None:
    """A local worker process (`cnn_core.runs.worker`): train the requests that arrive, one at a time, until told to
    quit. While a run trains, the messages that arrive are ("stop", token) or None (quit, which stops it too)."""
    import torch  # noqa: F401 - imported while idle, so that the first run starts at once

    from cnn_core.runs.request import describe_error, train_request

    quit_after = False
    while not quit_after:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if message[0] == "stop":  # for a run that had already ended
            continue
        token, request = message
        try:
            conn.send((token, "begun", None))  # the executor knows from here that this run reached a live worker
        except OSError:
            return
        stopped = False

        def stop(token: int = token) -> bool:
            nonlocal stopped, quit_after
            try:
                while conn.poll():
                    news = conn.recv()
                    stopped = stopped or news is None or news == ("stop", token)
                    quit_after = quit_after or news is None
            except (EOFError, OSError):  # the executor is gone: stop, then end
                stopped = quit_after = True
            return stopped

        def emit(event: dict, token: int = token) -> None:
            conn.send((token, "event", event))

        try:
            outcome = (token, "result", train_request(request, stop=stop, emit=emit))
        except BaseException as exc:  # noqa: BLE001 - reported to the submitter; the worker lives on
            outcome = (token, "error", describe_error(exc))
        try:
            conn.send(outcome)
        except OSError:  # the executor is gone: nobody to tell
            return


if __name__ == "__main__":
    main()
