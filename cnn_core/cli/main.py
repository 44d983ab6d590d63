"""`python -m cnn_core …`: the core's functions on the command line.

Bad arguments and bad input files exit with code 2 and one line on stderr, never a traceback; results go to
stdout or to --out. The subcommands
live in commands.py (data, summary, train, evaluate) and experiments.py (experiment, sweep).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from cnn_core.cli.commands import add_data, add_evaluate, add_summary, add_train
from cnn_core.cli.experiments import add_experiment_commands


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line, not a usage block."""

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(f"{self.prog}: error: {message}")


class _UsageError(Exception):
    pass


# Each subcommand is a function `add(sub)` that adds its parser and sets `run`.
SUBCOMMANDS: list[Callable[[Any], None]] = [add_data, add_summary, add_train, add_evaluate, add_experiment_commands]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m cnn_core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def end_process(code: int) -> None:
    """Exit `python -m cnn_core` with `code`. With PyTorch loaded and nothing left running (no other thread, no child
    process, no Ray connection), once stdout, stderr and the log are flushed, skip the interpreter's teardown: freeing
    PyTorch's thousands of modules and objects one by one takes about 0.6 s of CPU that nothing needs (os._exit)."""
    import threading

    children = "multiprocessing" in sys.modules and sys.modules["multiprocessing"].active_children()
    if "torch" not in sys.modules or "ray" in sys.modules or threading.active_count() > 1 or children:
        sys.exit(code)
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what the reader didn't take is gone either way
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except (OverflowError, RecursionError) as exc:  # met past the checks: still the input's fault, still one line
        what = "a number is too large" if isinstance(exc, OverflowError) else "the input is nested too deeply"
        print(f"error: {what} to use ({str(exc)[:120]})", file=sys.stderr)
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly, as Unix tools do
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps Python's exit-time flush from failing again
        return 0
    return 2
