"""A local training worker: `python -m cnn_core.runs.worker`, started by `cnn_core.runs.executor.LocalExecutor`.

A fresh interpreter, not a fork or a multiprocessing child: it runs nothing of the process that starts it
(in the app, Streamlit's `__main__` is a page script). The handshake, before torch is imported:
1. the parent writes a random key (hex) and a line break to this process's stdin;
2. this process listens on a fresh local address (a Unix socket, or a named pipe on Windows) with that key
   and writes the address as one JSON line to stdout;
3. the parent connects; from then on both ends exchange pickled messages (`executor.worker_loop`), and this
   process's stdout is its stderr, so that nothing else ever reaches the handshake's pipe.

`--nice N` lowers this process's CPU priority first (the app's workers: its web server goes first), so that
every thread it starts, torch's included, inherits it (on Linux a nice value belongs to a thread).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from multiprocessing.connection import Listener

CONNECT_WITHIN = 60.0  # seconds the server has to connect, else this process ends


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

    from cnn_core.runs.executor import worker_loop

    worker_loop(conn)


if __name__ == "__main__":
    main()
