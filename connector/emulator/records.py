"""Deterministic records derived on demand from (seed, key): no table of a million dicts."""

import time
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np

Record = dict[str, Any]

KIND_ORDER, KIND_ACCOUNT, KIND_CUSTOMER, KIND_XDR, KIND_OWNER = 1, 2, 3, 4, 5
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_FIRST = (
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "Владимир",
    "François",
    "Ağa",
    "Nguyễn",
    "Anna",
    "Kenji",
)
_LAST = (
    "Müller",
    "Ørsted",
    "Ñúñez",
    "Dvořák",
    "Иванова",
    "李",
    "O'Brien",
    "Smith",
    "Çelik",
    "Kowalska",
)
_COMPANIES = (
    "Café ☕ Réseau",
    "Telekom Süd",
    "Ωmega Voice",
    "Nordic Fjær AS",
    "Acme Telecom",
    "東京通信",
)
_PRODUCTS = ("Residential VoIP", "Business SIP Trunk", "Mobile Prepaid", "Fibre 1G", "Hosted PBX")
_CURRENCIES = ("USD", "EUR", "GBP")
_DESCRIPTIONS = (
    "Local calls",
    "Calls to Germany",
    "Appels vers la Réunion",
    "Mobile — roaming",
    "SMS",
)
_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#%"
_CAUSES = (16, 16, 16, 17, 31, 34)


def mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer over a uint64 array (wraps silently, which is the point)."""
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def key_hashes(seed: int, kind: int, keys: np.ndarray) -> np.ndarray:
    """One 64-bit hash per key, salted by seed and record kind."""
    salt = mix(np.array([(seed % 2**58) * 64 + kind], dtype=np.uint64))
    return mix(keys.astype(np.uint64) ^ salt)


def hash_rows(
    seed: int, kind: int, keys: Sequence[int] | np.ndarray, width: int
) -> list[list[int]]:
    """`width` independent 64-bit values per key, as Python ints."""
    base = key_hashes(seed, kind, np.asarray(keys, dtype=np.int64))
    steps = np.arange(1, width + 1, dtype=np.uint64) * _GOLDEN
    rows: list[list[int]] = mix(base[:, None] + steps[None, :]).tolist()
    return rows


def utc(epoch: int) -> str:
    """Epoch seconds as PortaBilling's `YYYY-MM-DD HH:MM:SS` UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def epoch_of(day: date) -> int:
    """Midnight UTC of `day` as epoch seconds."""
    return (day - date(1970, 1, 1)).days * 86400


def _secret(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def _money(value: int, span: int, low: int = 0) -> float:
    """A JSON number with up to 5 decimals in [low, low + span) / 1e5."""
    return (value % span + low) / 100000


def account_id(i_account: int) -> str:
    """The account's `id` (its phone number), also the CLI of its xDRs."""
    return str(15550000000 + i_account)


class RecordFactory:
    """Builds account, customer and xDR records for a seed and a date window."""

    def __init__(self, seed: int, xdr_start: date, xdr_days: int, xdrs_per_account: int) -> None:
        self.seed = seed
        self.xdr_start = xdr_start
        self.window_start = epoch_of(xdr_start)
        self.window_s = xdr_days * 86400
        self.xdrs_per_account = xdrs_per_account

    def accounts(
        self, keys: Sequence[int], customers: Sequence[int], statuses: Sequence[str]
    ) -> list[Record]:
        """Account records for `keys`, owned by `customers`, with bill statuses `statuses`."""
        rows = hash_rows(self.seed, KIND_ACCOUNT, keys, 16)
        return [self._account(*args) for args in zip(keys, customers, statuses, rows, strict=True)]

    def _account(self, key: int, i_customer: int, bill_status: str, v: list[int]) -> Record:
        activation = self.xdr_start - timedelta(days=v[5] % 1500)
        blocked = "Y" if v[4] % 10 == 0 else "N"
        i_product = 1 + v[0] % len(_PRODUCTS)
        record: Record = {
            "i_account": key,
            "id": account_id(key),
            "i_customer": i_customer,
            "i_product": i_product,
            "product_name": _PRODUCTS[i_product - 1],
            "iso_4217": _CURRENCIES[v[1] % 3],
            "balance": _money(v[2], 20_000_000, -5_000_000),
            "opening_balance": 0 if v[3] % 3 else _money(v[3] >> 8, 10_000_000),
            "credit_limit": None if v[3] % 4 == 0 else (v[3] >> 16) % 100_000 / 100,
            "blocked": blocked,
            "bill_status": bill_status,
            "is_active": 1 if bill_status == "O" else 0,
            "billing_model": (-1, 1, 1, 0)[v[6] % 4],
            "activation_date": activation.isoformat(),
            "issue_date": activation.isoformat(),
            "expiration_date": None if v[6] % 7 else (activation + timedelta(days=730)).isoformat(),
            "last_usage": None if v[7] % 5 == 0 else utc(self.window_start + v[7] % self.window_s),
            "login": f"acct{key}",
            "password": _secret(v[8], 12),
            "h323_password": _secret(v[9], 10),
            "api_token": f"{v[10]:016x}{v[11]:016x}",
            "firstname": _FIRST[v[12] % len(_FIRST)],
            "lastname": _LAST[(v[12] >> 8) % len(_LAST)],
            "service_features": _service_features(v[13]),
            "assigned_addons": _addons(v[14], self.window_start),
        }
        if v[15] % 7:
            record["email"] = f"acct{key}@example.com"
        status = _account_status(blocked, bill_status, v[15])
        if status:
            record["status"] = status
        return record

    def customers(self, keys: Sequence[int]) -> list[Record]:
        """Customer records for `keys`."""
        rows = hash_rows(self.seed, KIND_CUSTOMER, keys, 8)
        return [self._customer(key, v) for key, v in zip(keys, rows, strict=True)]

    def _customer(self, key: int, v: list[int]) -> Record:
        bill_status = "C" if v[4] % 25 == 0 else "S" if v[4] % 25 == 1 else "O"
        record: Record = {
            "i_customer": key,
            "name": f"{_COMPANIES[v[0] % len(_COMPANIES)]} #{key}",
            "login": f"cust{key}",
            "password": _secret(v[1], 14),
            "balance": _money(v[2], 100_000_000),
            "credit_limit": None if v[3] % 3 == 0 else float((v[3] >> 8) % 1_000 * 100),
            "iso_4217": _CURRENCIES[v[3] % 3],
            "blocked": "Y" if v[5] % 12 == 0 else "N",
            "bill_status": bill_status,
            "creation_date": utc(self.window_start - 86400 - v[6] % (86400 * 2000)),
            "i_customer_type": 1,
        }
        if v[7] % 5:
            record["email"] = f"billing{key}@example.org"
        if bill_status != "O":
            record["status"] = "closed" if bill_status == "C" else "suspended"
        return record

    def xdr_ids(self, i_account: int) -> np.ndarray:
        """The ids of every xDR an account has (derivable: account * per_account + j)."""
        per = self.xdrs_per_account
        return np.arange(i_account * per, (i_account + 1) * per, dtype=np.int64)

    def bill_times(self, i_xdrs: np.ndarray) -> np.ndarray:
        """Billing time (epoch) of each xDR id, inside the configured window."""
        offsets = key_hashes(self.seed, KIND_XDR, i_xdrs) % np.uint64(self.window_s)
        return offsets.astype(np.int64) + self.window_start

    def xdrs(self, i_xdrs: Sequence[int], bill_times: Sequence[int]) -> list[Record]:
        """xDR records for ids whose billing times are already known."""
        rows = hash_rows(self.seed, KIND_XDR, i_xdrs, 8)
        per = self.xdrs_per_account
        return [
            _xdr(i_xdr, i_xdr // per, bill, v)
            for i_xdr, bill, v in zip(i_xdrs, bill_times, rows, strict=True)
        ]


def _account_status(blocked: str, bill_status: str, value: int) -> str | None:
    if bill_status == "C":
        return "closed"
    if blocked == "Y":
        return "blocked"
    return "credit_exceeded" if value % 30 == 0 else None


def _service_features(value: int) -> list[Record]:
    features: list[Record] = [
        {
            "name": "netaccess_policy",
            "flag_value": "~",
            "effective_flag_value": "Y" if value % 2 else "N",
            "attributes": [
                {"name": "access_policy", "values": [], "effective_values": [str(value % 40)]}
            ],
        },
        {
            "name": "voice_authentication",
            "flag_value": "Y",
            "effective_flag_value": "Y",
            "attributes": [],
        },
    ]
    return features[: value % 3]


def _addons(value: int, window_start: int) -> list[Record]:
    count = value % 3
    return [
        {
            "i_product": 100 + (value >> (8 * n)) % 20,
            "name": f"Add-on pack {(value >> (8 * n)) % 20}",
            "addon_effective_from": utc(window_start - 86400 * (1 + n)),
            "addon_priority": 10 * (n + 1),
        }
        for n in range(count)
    ]


def _xdr(i_xdr: int, i_account: int, bill: int, v: list[int]) -> Record:
    failed = 1 if v[0] % 12 == 0 else 0
    duration = 0 if failed else v[1] % 3600
    connect = bill - duration
    cause = _CAUSES[v[2] % len(_CAUSES)] if failed else 16
    record: Record = {
        "i_xdr": i_xdr,
        "i_account": i_account,
        "CLI": account_id(i_account),
        "CLD": f"{4420_0000_0000 + v[3] % 10**10}",
        "connect_time": utc(connect),
        "disconnect_time": utc(bill),
        "bill_time": utc(bill),
        "unix_connect_time": str(connect) if v[4] % 10 == 0 else connect,
        "charged_amount": _money(v[5], 500_000) if duration else 0,
        "charged_quantity": duration,
        "disconnect_cause": str(cause) if v[4] % 4 == 1 else cause,
        "failed": failed,
        "bit_flags": v[6] % 256,
        "description": _DESCRIPTIONS[v[7] % len(_DESCRIPTIONS)],
    }
    if v[6] % 9:
        record["call_id"] = f"{v[7]:016x}@sbc.example.net"
    return record
