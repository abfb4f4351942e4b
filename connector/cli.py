"""The `portabilling` command: demo, emulator and webhook sub-commands."""

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn


class _OneLineErrorParser(argparse.ArgumentParser):
    """Bad usage exits 2 with a single line naming the problem, never a traceback."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


Runner = Callable[[argparse.Namespace], int]


def _add_command(
    commands: "argparse._SubParsersAction[_OneLineErrorParser]",
    name: str,
    help_text: str,
    module: str,
) -> None:
    """Register a sub-command whose `add_arguments` and `run` live in `module`."""
    import importlib

    command = importlib.import_module(module)
    parser = commands.add_parser(name, help=help_text, description=help_text)
    command.add_arguments(parser)
    parser.set_defaults(run=command.run)


def build_parser() -> _OneLineErrorParser:
    parser = _OneLineErrorParser(
        prog="portabilling", description="PortaBilling connector for Dagster."
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_OneLineErrorParser
    )
    _add_command(
        commands,
        "demo",
        "Materialize every default asset against an embedded emulator; tables land in --data-dir.",
        "connector.demo",
    )
    _add_command(
        commands,
        "emulator",
        "Run the bundled PortaBilling emulator until stopped; prints its base URL and credentials.",
        "connector.emulator.command",
    )
    _add_command(
        commands,
        "webhook",
        "Run the ESPF provisioning-event receiver (POST /events) until stopped.",
        "connector.events.command",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 on success, 2 on bad usage or configuration, 1 on a runtime failure."""
    args = build_parser().parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
