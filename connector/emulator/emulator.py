"""The in-process emulator: a PortaBilling-like server on loopback to inspect and mutate."""

import dataclasses
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

from connector.emulator.api import Api
from connector.emulator.config import EmulatorConfig
from connector.emulator.counters import Counters
from connector.emulator.entity_tables import EntityTable
from connector.emulator.events import DeliveryOptions, DeliveryReport, WebhookAuth, deliver
from connector.emulator.gateway import Gateway
from connector.emulator.realms import Directory
from connector.emulator.records import Record, decode, epoch_of
from connector.emulator.registry import BUILTIN_TABLES
from connector.emulator.server import EmulatorHTTPServer
from connector.emulator.sessions import SessionTable, public_key_pem
from connector.emulator.table_rows import TableSet
from connector.emulator.tls import server_context, write_certificates
from connector.emulator.world import World


class Truth:
    """Ground truth: exactly what the API returns for each entity right now (secrets included)."""

    def __init__(self, world: World, tables: TableSet) -> None:
        self._world = world
        self._tables = tables

    def accounts(self) -> list[Record]:
        """Every account, in list order."""
        return [decode(text) for text in self._world.account_page(0, None)[0]]

    def customers(self) -> list[Record]:
        """Every customer, in list order."""
        return [decode(text) for text in self._world.customer_page(0, None)[0]]

    def xdrs(self, day: date) -> list[Record]:
        """xDRs whose `bill_time` falls in that UTC day."""
        start = epoch_of(day)
        return [decode(text) for text in self._world.all_xdrs(start, start + 86400)]

    def table(self, name: str) -> list[Record]:
        """Every row of a declared entity table (e.g. `invoices`), in list order."""
        return self._tables[name].all()


class Emulator:
    """A PortaBilling emulator on a free loopback port; a context manager, or start()/stop()."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        extra_tables: Iterable[EntityTable] = (),
    ) -> None:
        self.config = dataclasses.replace(config or EmulatorConfig())
        if self.config.api_token is None:
            self.config.api_token = secrets.token_urlsafe(24)
        self.counters = Counters()
        self._world = World(self.config)
        self.tables = TableSet(
            (*BUILTIN_TABLES, *extra_tables), self.config, self._world.record_event
        )
        self.truth = Truth(self._world, self.tables)
        directory = Directory(self.config, self._world)
        self._sessions = SessionTable(self.config, directory, clock, self.counters)
        rng = random.Random(self.config.seed)
        api = Api(self._world, self.tables, self._sessions, self.config, rng)
        self._gateway = Gateway(api, self.config, self.counters, clock, rng, sleep)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._cert_dir: tempfile.TemporaryDirectory[str] | None = None
        self.ca_file: str | None = None
        self.public_key_pem = public_key_pem()
        self._acknowledged: set[int] = set()
        self._delivery_rng = random.Random(self.config.seed)

    def __repr__(self) -> str:
        return f"Emulator(url={self.url if self._server else None!r}, config={self.config!r})"

    @property
    def login(self) -> str:
        return self.config.login

    @property
    def password(self) -> str:
        return self.config.password

    @property
    def api_token(self) -> str:
        assert self.config.api_token is not None
        return self.config.api_token

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:PORT`."""
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._server.server_address[:2]
        scheme = "https" if self.config.https else "http"
        return f"{scheme}://{host!s}:{port}"

    def start(self) -> "Emulator":
        """Bind the port and serve on a background thread."""
        tls = self._tls_context() if self.config.https else None
        address = (self.config.host, self.config.port)
        self._server = EmulatorHTTPServer(address, self._gateway, self.config.max_body_bytes, tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="emulator", daemon=True
        )
        self._thread.start()
        return self

    def _tls_context(self) -> Any:
        if self.config.cert_dir is None:
            self._cert_dir = tempfile.TemporaryDirectory(prefix="portabilling-emulator-")
            directory = Path(self._cert_dir.name)
        else:
            directory = Path(self.config.cert_dir)
        ca, certificate, key = write_certificates(directory, self.config.host)
        self.ca_file = str(ca)
        return server_context(certificate, key)

    def stop(self) -> None:
        """Stop serving and close open connections."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._cert_dir is not None:
            self._cert_dir.cleanup()
            self._cert_dir = None

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset_counters(self) -> None:
        """Zero the counters."""
        self.counters.reset()

    def kill_sessions(self) -> None:
        """Invalidate every live session now (inactivity timer, site switch)."""
        self._sessions.kill_all()

    def deliver_events(
        self,
        url: str,
        auth: WebhookAuth,
        *,
        duplicates: float = 0.0,
        shuffle: bool = False,
        string_ids: float = 0.0,
        legacy_types: bool = False,
    ) -> DeliveryReport:
        """POST the recorded events not yet acknowledged to `url` (the full `.../events` URL).

        One request per event plus duplicate redeliveries (`duplicates` is a rate), optionally
        shuffled, with ids as strings at rate `string_ids`; `auth` is ("basic", user, password),
        ("custom", type, credential) or ("signature", key_id, shared_key). Events the receiver did
        not acknowledge stay pending for the next call, as ESPF keeps retrying them.
        """
        with self._world.lock:
            pending = [e for e in self._world.events if e.i_event not in self._acknowledged]
        options = DeliveryOptions(duplicates, shuffle, string_ids, legacy_types)
        report = deliver(pending, url, auth, options, self._delivery_rng)
        self._acknowledged |= report.acknowledged_events
        return report

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every recorded event as its ESPF body (integer ids), oldest first."""
        return [event.body() for event in self._world.events]

    def create_account(self, i_customer: int, **fields: Any) -> Record:
        """Add an account (records `Subscriber/Created`)."""
        return self._world.create_account(i_customer, **fields)

    def update_account(self, i_account: int, **fields: Any) -> Record:
        """Change an account's fields (records `Subscriber/Updated`)."""
        return self._world.update_account(i_account, **fields)

    def delete_account(self, i_account: int) -> None:
        """Remove an account (records `Subscriber/Deleted`)."""
        self._world.delete_account(i_account)

    def create_customer(self, **fields: Any) -> Record:
        """Add a customer (records `Customer/Created`)."""
        return self._world.create_customer(**fields)

    def update_customer(self, i_customer: int, **fields: Any) -> Record:
        """Change a customer's fields (records `Customer/Updated`)."""
        return self._world.update_customer(i_customer, **fields)

    def delete_customer(self, i_customer: int) -> None:
        """Remove a customer (records `Customer/Deleted`)."""
        self._world.delete_customer(i_customer)

    def create_row(self, table: str, **fields: Any) -> Record:
        """Add a row to a declared entity table under the next key (records `<group>/Created`)."""
        return self.tables[table].create(fields)

    def update_row(self, table: str, key: int, **fields: Any) -> Record:
        """Change a row of a declared entity table (records `<group>/Updated`)."""
        return self.tables[table].update(key, fields)

    def delete_row(self, table: str, key: int) -> None:
        """Remove a row of a declared entity table (records `<group>/Deleted`)."""
        self.tables[table].delete(key)
