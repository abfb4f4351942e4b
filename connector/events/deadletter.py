"""`portabilling events dead-letter`: list the events set aside as dead, or requeue them."""

import argparse
import os

from connector.events.store import (
    DEFAULT_DATA_DIR,
    EVENTS_DB_NAME,
    DeadLetter,
    EventStore,
    default_events_db_path,
)

_HEADER = ("i_event", "event_type", "dead_at (UTC)", "error")


class NoEventStore(ValueError):
    """The path names no event store: a configuration mistake, not something to create."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `events` group: its one sub-command, `dead-letter [--requeue] [--db PATH]`."""
    commands = parser.add_subparsers(
        dest="events_command", metavar="{dead-letter}", required=True, parser_class=type(parser)
    )
    text = "List dead-lettered events (i_event, type, when, error); --requeue retries them."
    dead_letter = commands.add_parser("dead-letter", help=text, description=text)
    dead_letter.add_argument(
        "--requeue",
        action="store_true",
        help="put the listed events back to pending: the next events run applies them again",
    )
    dead_letter.add_argument(
        "--db",
        default=None,
        help="event store path (default $PORTABILLING_EVENTS_DB, else "
        f"$PORTABILLING_DATA_DIR/{EVENTS_DB_NAME}, the data root defaulting to {DEFAULT_DATA_DIR})",
    )


def run(args: argparse.Namespace) -> int:
    """Print the dead letters; with `--requeue`, put exactly those back to pending."""
    path = args.db or default_events_db_path()
    if not os.path.isfile(path):
        raise NoEventStore(f"no event store at {path} (give --db or set PORTABILLING_EVENTS_DB)")
    with EventStore(path) as store:
        dead = store.dead_letters()
        print("\n".join(_table(dead)) if dead else "no dead-lettered events")
        if args.requeue and dead:
            count = store.requeue_dead([letter.i_event for letter in dead])
            print(f"requeued {count} events to pending: the next events run applies them again")
    return 0


def _table(dead: list[DeadLetter]) -> list[str]:
    """Tab-separated lines, a header first; text from senders is made printable."""
    rows = [
        (str(d.i_event), d.event_type, d.dead_at.strftime("%Y-%m-%d %H:%M:%S"), d.error)
        for d in dead
    ]
    return ["\t".join(_printable(cell) for cell in row) for row in [_HEADER, *rows]]


def _printable(text: str) -> str:
    """Control characters escaped, so an event type cannot drive the terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
