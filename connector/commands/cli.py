"""The `portabilling` command: demo, dev, emulator, webhook and events sub-commands."""

import argparse
import gc
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn


class _OneLineErrorParser(argparse.ArgumentParser):
    """Bad usage exits 2 with a single line naming the problem, never a traceback."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


Runner = Callable[[argparse.Namespace], int]

# name -> (help, module with `add_arguments(parser)` and `run(args) -> int`)
COMMANDS = {
    "demo": (
        "Materialize every default asset against an embedded emulator; tables land in --data-dir.",
        "connector.commands.demo",
    ),
    "dev": (
        "Run the emulator, the event receiver and the Dagster UI wired together until stopped.",
        "connector.commands.devserver",
    ),
    "emulator": (
        "Run the bundled PortaBilling emulator until stopped; prints its base URL and credentials.",
        "connector.emulator.command",
    ),
    "webhook": (
        "Run the ESPF provisioning-event receiver (POST /events) until stopped.",
        "connector.commands.webhook",
    ),
    "events": (
        "Inspect the event store: `events dead-letter [--requeue]` lists or retries dead letters.",
        "connector.events.deadletter",
    ),
}


def build_parser(argv: Sequence[str]) -> _OneLineErrorParser:
    """The parser; only the sub-command named in `argv` is imported (the demo loads Dagster)."""
    parser = _OneLineErrorParser(
        prog="portabilling", description="PortaBilling connector for Dagster."
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_OneLineErrorParser
    )
    for name, (help_text, module) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name in argv:
            command = importlib.import_module(module)
            command.add_arguments(sub)
            sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 on bad usage or configuration, 1 on a runtime failure."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[:1]).parse_args(argv)
    run: Runner = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:  # configuration errors are ValueErrors
        print(f"portabilling {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"portabilling {args.command}: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        # Arrow's native worker threads must be joined while Arrow is alive, not during the
        # interpreter's final teardown (apache/arrow#34314: an abort after a clean run).
        gc.collect()


if __name__ == "__main__":
    sys.exit(main())
