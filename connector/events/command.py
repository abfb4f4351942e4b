"""`portabilling webhook`: run the ESPF event receiver until SIGINT or SIGTERM."""

import argparse
import logging
import math
import os
import signal
import threading

from connector.events.app import DEFAULT_MAX_BODY_BYTES
from connector.events.auth import (
    DEFAULT_MAX_CLOCK_SKEW_S,
    SCHEMES,
    WebhookConfigError,
    authenticator_from_env,
)
from connector.events.connections import ConnectionLimits
from connector.events.receiver import EventReceiver
from connector.events.store import (
    DEFAULT_DATA_DIR,
    EVENTS_DB_NAME,
    EventStore,
    default_events_db_path,
)
from connector.events.types import Routing

DEFAULT_PORT = 8788  # beside the emulator on 8787
_POSITIVE_OPTIONS = (
    "max_body_bytes",
    "max_clock_skew",
    "read_timeout",
    "keep_alive_timeout",
    "max_connections",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `portabilling webhook`; credentials come only from the environment."""
    parser.epilog = (
        "Credentials are read from the environment only: PORTABILLING_WEBHOOK_USER/_PASSWORD "
        "(basic), PORTABILLING_WEBHOOK_CUSTOM_TYPE/_CREDENTIAL (custom), "
        "PORTABILLING_WEBHOOK_SIGNATURE_KEY_ID/_KEY (signature)."
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="0 picks a free port (default %(default)s)"
    )
    parser.add_argument(
        "--db",
        default=None,
        help="event store path (default $PORTABILLING_EVENTS_DB, else "
        f"$PORTABILLING_DATA_DIR/{EVENTS_DB_NAME}, the data root defaulting to {DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--auth",
        choices=SCHEMES,
        default="basic",
        help="sender authentication (default %(default)s)",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help="larger bodies get 413 (default %(default)s)",
    )
    parser.add_argument(
        "--max-clock-skew",
        type=float,
        default=DEFAULT_MAX_CLOCK_SKEW_S,
        help="signature: seconds a Date may be off, bounding replays (default %(default)s)",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=ConnectionLimits.read_timeout_s,
        help="seconds a peer has to send a whole request; then it is disconnected"
        " (default %(default)s)",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=int,
        default=ConnectionLimits.keep_alive_s,
        help="seconds an idle connection is kept between requests (default %(default)s)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=ConnectionLimits.max_connections,
        help="beyond this, the idlest connection is closed, unauthenticated ones first"
        " (default %(default)s)",
    )
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve HTTPS (with --tls-key)")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")


def run(args: argparse.Namespace, routing: Routing) -> int:
    """Serve until SIGINT/SIGTERM; events in flight are committed before exiting.

    `routing` names the entity each event group names (`connector.commands.webhook` builds it).
    """
    _check_positive(args)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise WebhookConfigError("--tls-cert and --tls-key go together")
    auth = authenticator_from_env(args.auth, os.environ, max_clock_skew_s=args.max_clock_skew)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    db_path = args.db or default_events_db_path()
    stopping = stop_on_signals()
    with (
        EventStore(db_path) as store,
        EventReceiver(
            store,
            auth,
            routing=routing,
            host=args.host,
            port=args.port,
            max_body_bytes=args.max_body_bytes,
            tls=(args.tls_cert, args.tls_key) if args.tls_cert else None,
            limits=ConnectionLimits(
                read_timeout_s=args.read_timeout,
                keep_alive_s=args.keep_alive_timeout,
                max_connections=args.max_connections,
            ),
        ) as receiver,
    ):
        print(
            f"receiving events on {receiver.url}/events (auth: {args.auth}, store: {db_path})",
            flush=True,
        )
        stopping.wait()
    return 0


def _check_positive(args: argparse.Namespace) -> None:
    """Refuse limits that are zero, negative or not finite, naming the option."""
    for option in _POSITIVE_OPTIONS:
        if not 0 < getattr(args, option) < math.inf:
            raise WebhookConfigError(f"--{option.replace('_', '-')} must be positive and finite")


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, so shutdown is orderly either way."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    return stopping
