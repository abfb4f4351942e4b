"""`portabilling webhook`: the event receiver, routing events to the built-in entities."""

import argparse

from connector.entities import BUILT_IN
from connector.events import command

add_arguments = command.add_arguments


def run(args: argparse.Namespace) -> int:
    """Serve until stopped; each event group names the entity the registry routes it to."""
    return command.run(args, BUILT_IN.routing())
