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
