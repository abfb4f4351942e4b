"""`portabilling emulator`: run the bundled PortaBilling emulator until SIGINT/SIGTERM."""

import argparse
import os
import shlex
import signal
from datetime import date
from typing import Any

from connector.emulator.config import EmulatorConfig
from connector.emulator.emulator import Emulator
from connector.emulator.releases import RELEASES

DEFAULT_PORT = 8787


def _bounded(kind: type, low: float, high: float | None = None) -> Any:
    """An argparse type: `kind` within [low, high], else a one-line usage error."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {kind.__name__}") from None
        if value < low or (high is not None and value > high):
            limits = f">= {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"{text!r} must be {limits}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every emulator option, with its default in the help text."""
    defaults = EmulatorConfig()
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default %(default)s)")
    add(
        "--port",
        type=_bounded(int, 0, 65535),
        default=DEFAULT_PORT,
        help="port; 0 picks a free one (default %(default)s)",
    )
    parser.add_argument(
        "--release",
        choices=tuple(RELEASES),
        default=defaults.release,
        help="the PortaBilling to play: current (JSON + Bearer and the form style, realms, "
        "900-s tokens) or legacy (before MR101: the form style only, 48-hour tokens) "
        "(default %(default)s)",
    )
    data = parser.add_argument_group("data (deterministic from the seed)")
    data.add_argument(
        "--accounts",
        type=_bounded(int, 0),
        default=defaults.accounts,
        help="number of accounts (default %(default)s)",
    )
    data.add_argument(
        "--customers",
        type=_bounded(int, 0),
        default=defaults.customers,
        help="number of customers (default %(default)s)",
    )
    data.add_argument(
        "--xdrs-per-account",
        type=_bounded(int, 0),
        default=defaults.xdrs_per_account,
        help="xDRs per account (default %(default)s)",
    )
    data.add_argument(
        "--xdrs-per-day",
        type=_bounded(int, 0),
        default=defaults.xdrs_per_day,
        help="instead of --xdrs-per-account: exactly N xDRs each day, 1%% of the customers "
        "holding half, 9%% the rest, the others none",
    )
    data.add_argument(
        "--xdr-start",
        type=_day,
        default=defaults.xdr_start,
        help="first UTC day of the xDRs, YYYY-MM-DD (default %(default)s)",
    )
    data.add_argument(
        "--xdr-days",
        type=_bounded(int, 1),
        default=defaults.xdr_days,
        help="days the xDRs spread over (default %(default)s)",
    )
    data.add_argument(
        "--seed",
        type=int,
        default=defaults.seed,
        help="seed of all generated data (default %(default)s)",
    )
    auth = parser.add_argument_group("credentials")
    auth.add_argument(
        "--login", default=defaults.login, help="API user login (default %(default)s)"
    )
    auth.add_argument(
        "--password", default=defaults.password, help="API user password (default %(default)s)"
    )
    auth.add_argument(
        "--api-token",
        default=None,
        help="API token accepted by Session/login (default: generated, printed at start)",
    )
    auth.add_argument(
        "--token-lifetime",
        type=_bounded(int, 1),
        default=None,
        help="access token lifetime in seconds (default: the release's, "
        + ", ".join(f"{r.token_lifetime_s} {r.name}" for r in RELEASES.values())
        + ")",
    )
    faults = parser.add_argument_group("fault and latency injection")
    faults.add_argument(
        "--latency-ms",
        type=_bounded(float, 0),
        default=0.0,
        help="added latency per request, ms (default %(default)s)",
    )
    faults.add_argument(
        "--transient-error-rate",
        type=_bounded(float, 0, 1),
        default=0.0,
        help="share of requests answered 502/503/504 with an HTML body (default %(default)s)",
    )
    faults.add_argument(
        "--rate-limit-rps",
        type=_bounded(float, 0.001),
        default=None,
        help="answer 429 + Retry-After above this many requests per second (default: no limit)",
    )
    faults.add_argument(
        "--retry-after",
        type=_bounded(int, 0),
        default=defaults.retry_after_s,
        help="Retry-After seconds on a 429 (default %(default)s)",
    )
    faults.add_argument(
        "--session-kill-rate",
        type=_bounded(float, 0, 1),
        default=0.0,
        help="share of authenticated requests that find their session killed (default %(default)s)",
    )
    faults.add_argument(
        "--total-as-string", action="store_true", help="send list totals as JSON strings"
    )
    faults.add_argument(
        "--churn-per-page",
        type=_bounded(int, 0),
        default=0,
        help="accounts created and deleted before each get_account_list page (default %(default)s)",
    )
    faults.add_argument(
        "--brute-force-attempts",
        type=_bounded(int, 1),
        default=defaults.brute_force_attempts,
        help="bad logins in a row that lock a login (default %(default)s)",
    )
    tls = parser.add_argument_group("HTTPS")
    tls.add_argument(
        "--https", action="store_true", help="serve HTTPS with a generated self-signed CA"
    )
    tls.add_argument(
        "--cert-dir",
        default=None,
        help="where to write ca.pem and the server certificate (default: a temporary directory)",
    )


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    """The EmulatorConfig the parsed options describe (ValueError on an impossible combination)."""
    return EmulatorConfig(
        customers=args.customers,
        accounts=args.accounts,
        xdrs_per_account=args.xdrs_per_account,
        xdrs_per_day=args.xdrs_per_day,
        xdr_start=args.xdr_start,
        xdr_days=args.xdr_days,
        seed=args.seed,
        latency_s=args.latency_ms / 1000,
        transient_error_rate=args.transient_error_rate,
        rate_limit_rps=args.rate_limit_rps,
        retry_after_s=args.retry_after,
        session_kill_rate=args.session_kill_rate,
        total_as_string=args.total_as_string,
        churn_per_page=args.churn_per_page,
        release=args.release,
        token_lifetime_s=args.token_lifetime,
        https=args.https,
        cert_dir=args.cert_dir,
        login=args.login,
        password=args.password,
        api_token=args.api_token,
        brute_force_attempts=args.brute_force_attempts,
        host=args.host,
        port=args.port,
    )


def _xdr_shape(config: EmulatorConfig) -> str:
    """How the xDRs are spread, for the banner."""
    if config.xdrs_per_day is None:
        return f"{config.xdrs_per_account} xDRs each"
    return f"{config.xdrs_per_day} xDRs a day, skewed"


def _banner(emulator: Emulator) -> str:
    config = emulator.config
    lines = [
        f"PortaBilling emulator serving on {emulator.url} "
        f"(release {config.release}: {config.profile.version})",
        f"  login: {emulator.login}  password: {emulator.password}",
        f"  api token: {emulator.api_token}",
        f"  data: {config.customers} customers, {config.accounts} accounts, "
        f"{_xdr_shape(config)} over {config.xdr_days} days from {config.xdr_start}, "
        f"seed {config.seed}",
    ]
    if emulator.ca_file:
        lines.append(f"  CA file: {emulator.ca_file}")
    lines.append("  point the connector at it (paste into a shell):")
    lines += [f"    export {name}={shlex.quote(value)}" for name, value in exports(emulator)]
    lines.append("  stop with Ctrl-C (SIGINT) or SIGTERM")
    return "\n".join(lines)


def exports(emulator: Emulator) -> list[tuple[str, str]]:
    """The connector's environment for this emulator: server, credentials, xDR days, style."""
    config = emulator.config
    pairs = [
        ("PORTABILLING_URL", emulator.url),
        ("PORTABILLING_LOGIN", emulator.login),
        ("PORTABILLING_PASSWORD", emulator.password),
        ("PORTABILLING_XDR_START_DATE", config.xdr_start.isoformat()),
    ]
    if emulator.ca_file:
        pairs.append(("PORTABILLING_CA_BUNDLE", emulator.ca_file))
    if not config.profile.accepts_json:
        pairs.append(("PORTABILLING_LEGACY_API", "true"))
    return pairs


def run(args: argparse.Namespace) -> int:
    """Start the emulator, print its URL and credentials, serve until SIGINT/SIGTERM."""
    config = config_from(args)
    # Whichever thread the kernel hands a signal to, the C-level handler writes to the wakeup
    # pipe, and the main thread, blocked reading it, wakes up: no race, no lost signal.
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    previous_fd = signal.set_wakeup_fd(wake_write)
    stops = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in stops}
    try:
        with Emulator(config) as emulator:
            print(_banner(emulator), flush=True)
            os.read(wake_read, 1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(wake_read)
        os.close(wake_write)
    return 0
