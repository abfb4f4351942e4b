"""Deterministic records derived on demand from (seed, key): no table of a million dicts.

Records are produced directly as JSON text (`Json`), because encoding 1,000-row pages is the
emulator's hot path; `decode` turns them into the dicts the API's JSON parses to.
"""

import binascii
import json
import time
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np

Record = dict[str, Any]

KIND_ORDER, KIND_ACCOUNT, KIND_CUSTOMER, KIND_XDR, KIND_OWNER, KIND_STATUS = 1, 2, 3, 4, 5, 6
# The billing tables' records (`billing.py`, `catalog.py`, `vendor_xdrs.py`).
KIND_INVOICE, KIND_PAYMENT, KIND_DID, KIND_VENDOR, KIND_VENDOR_XDR = 7, 8, 9, 10, 11
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class Json(bytes):
    """UTF-8 bytes that are already one encoded JSON value."""


def _pool(*values: str) -> tuple[str, ...]:
    return tuple(json.dumps(value, ensure_ascii=False) for value in values)


FIRST_NAMES = ("José", "Zoë", "Łukasz", "Søren", "Владимир", "François", "Ağa", "Nguyễn", "Anna")
LAST_NAMES = ("Müller", "Ørsted", "Ñúñez", "Dvořák", "Иванова", "李", "O'Brien", "Smith", "Çelik")
FULL_NAMES = tuple(f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES)
_FIRST, _LAST, _FULL = _pool(*FIRST_NAMES), _pool(*LAST_NAMES), _pool(*FULL_NAMES)
# Which of an account's hash values picks its first name, last name, aliases, email / extension.
HASH_FIRSTNAME, HASH_LASTNAME, HASH_ALIASES, HASH_EXTRAS = 4, 6, 9, 11
_TIME_ZONES = _pool(
    "Europe/Prague", "UTC", "America/New_York", "Asia/Tokyo", "Europe/Kyiv", "America/Sao_Paulo"
)
_COMPANIES = (
    "Café ☕ Réseau",
    "Telekom Süd",
    "Ωmega Voice",
    "Nordic Fjær AS",
    'Acme "Tel"',
    "東京通信",
)
PRODUCT_NAMES = (
    "Residential VoIP",
    "Business SIP Trunk",
    "Mobile Prepaid",
    "Fibre 1G",
    "Hosted PBX",
)
_PRODUCTS = _pool(*PRODUCT_NAMES)
_CURRENCIES = _pool("USD", "EUR", "GBP")
_DESCRIPTIONS = _pool(
    "Local calls", "Calls to Germany", "Appels vers la Réunion", "Mobile — roaming"
)
_CAUSES = (16, 16, 16, 17, 31, 34)
_REASONS = {
    cause: json.dumps(text)
    for cause, text in (
        (16, "Normal call clearing"),
        (17, "User busy"),
        (31, "Normal, unspecified"),
        (34, "No circuit/channel available"),
    )
}
ADDONS = 20  # add-on products an account may hold
ALIAS_COUNTS = (0, 0, 0, 1, 2)
ALIAS_KEYS = 2_000_000_000  # aliases are accounts too; theirs sit far above the real accounts
_BILLING_MODELS = (-1, 1, 1, 0)
_TIMES_OF_DAY = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400))


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


def hash_rows(seed: int, kind: int, keys: Sequence[int], width: int) -> list[list[int]]:
    """`width` independent 64-bit values per key, as Python ints."""
    base = key_hashes(seed, kind, np.asarray(keys, dtype=np.int64))
    steps = np.arange(1, width + 1, dtype=np.uint64) * _GOLDEN
    rows: list[list[int]] = mix(base[:, None] + steps[None, :]).tolist()
    return rows


def hash_column(seed: int, kind: int, keys: np.ndarray, column: int) -> np.ndarray:
    """Value `column` of `hash_rows` for every key, without building the rows."""
    step = np.array([column + 1], dtype=np.uint64) * _GOLDEN
    return mix(key_hashes(seed, kind, keys) + step)


def utc(epoch: int) -> str:
    """Epoch seconds as PortaBilling's `YYYY-MM-DD HH:MM:SS` UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def epoch_of(day: date) -> int:
    """Midnight UTC of `day` as epoch seconds."""
    return (day - date(1970, 1, 1)).days * 86400


def decode(text: Json) -> Record:
    """The dict a client gets from parsing one record."""
    record: Record = json.loads(text)
    return record


def to_json(value: Any) -> Json:
    """Compact UTF-8 JSON of a plain value."""
    return Json(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def patch(text: Json, changes: Record) -> Json:
    """A record with fields overridden (mutations overlay the derived record)."""
    return to_json({**decode(text), **changes})


def _secret(value: int, length: int) -> str:
    return binascii.b2a_base64(value.to_bytes(8, "little"), newline=False).decode("ascii")[:length]


def _money(value: int, span: int, low: int = 0) -> float:
    """A JSON number with up to 5 decimals in [low, low + span) / 1e5."""
    return (value % span + low) / 100000


def account_id(i_account: int) -> str:
    """The account's `id` (its phone number), also the CLI of its xDRs."""
    return str(15550000000 + i_account)


def account_login(i_account: int) -> str:
    """The account's self-care `login`."""
    return f"acct{i_account}"


def account_email(i_account: int) -> str:
    """The account's `email`, when it has one."""
    return f"acct{i_account}@example.com"


def has_email(value: Any) -> Any:
    """Whether an account has an email, from its extras hash (an int or an array of them)."""
    return value % 7 != 0


def has_extension(value: Any) -> Any:
    """Whether an account has a PBX extension, from its extras hash (int or array)."""
    return (value >> 8) % 4 != 0


def alias_pick(value: Any) -> Any:
    """Index into `ALIAS_COUNTS` from an account's aliases hash (an int or an array of them)."""
    return (value >> 8) % len(ALIAS_COUNTS)


def name_code(first_value: Any, last_value: Any) -> Any:
    """Index into `FULL_NAMES` from an account's first- and last-name hashes (int or array)."""
    return first_value % len(FIRST_NAMES) * len(LAST_NAMES) + last_value % len(LAST_NAMES)


def account_key(name: str, value: str) -> int:
    """The key a derived `id` (15550001234) or `login` (acct1234) encodes; -1 when none."""
    digits = value.removeprefix("acct") if name == "login" else value
    if not digits.isascii() or not digits.isdigit():
        return -1
    key = int(digits) if name == "login" else int(digits) - int(account_id(0))
    return key if DERIVED_TEXT[name](key) == value else -1


DERIVED_TEXT = {"id": account_id, "login": account_login, "email": account_email}


def alias_number(i_account: int, n: int) -> str:
    """The number of an account's `n`-th alias (also its DID)."""
    return str(16660000000 + 2 * i_account + n)


def alias_key(i_account: int, n: int) -> int:
    """The `i_account` of an account's `n`-th alias."""
    return ALIAS_KEYS + 2 * i_account + n


def customer_name(i_customer: int, value: int) -> str:
    """A customer's `name` from its first hash value."""
    return f"{_COMPANIES[value % len(_COMPANIES)]} #{i_customer}"


def office(i_customer: int) -> tuple[int, int | None]:
    """`i_office_type` and `i_main_office` (None unless a branch) of a customer."""
    # In each block of ten customers the first is a main office (3), the next two its
    # branches (2), the rest stand alone (1).
    place = (i_customer - 1) % 10
    if place == 0:
        return 3, None
    return (2, i_customer - place) if place < 3 else (1, None)


class RecordFactory:
    """Builds account, customer and xDR records for a seed and a date window."""

    def __init__(self, seed: int, xdr_start: date, xdr_days: int) -> None:
        self.seed = seed
        self.window_start = epoch_of(xdr_start)
        self.window_s = xdr_days * 86400
        self._days: dict[int, str] = {}
        self._past = [(xdr_start - timedelta(days=n)).isoformat() for n in range(1500)]
        self._expiry = [(xdr_start + timedelta(days=730 - n)).isoformat() for n in range(1500)]
        self._features_cache: dict[int, str] = {}
        self._addons_cache: dict[int, str] = {}
        self._names: dict[int, str] = {}

    def stamp(self, epoch: int) -> str:
        """`utc(epoch)` without strftime: day strings are cached, the time of day is arithmetic."""
        day, second = divmod(epoch, 86400)
        text = self._days.get(day)
        if text is None:
            text = self._days.setdefault(day, utc(day * 86400)[:10])
        return f"{text} {_TIMES_OF_DAY[second]}"

    def accounts(
        self,
        keys: Sequence[int],
        owners: Sequence[int],
        statuses: Sequence[str],
        owner_names: Sequence[str],
    ) -> list[Json]:
        """Account records for `keys` with their owners, owners' JSON names and bill statuses."""
        rows = hash_rows(self.seed, KIND_ACCOUNT, keys, 12)
        return [
            self._account(*args)
            for args in zip(keys, owners, statuses, owner_names, rows, strict=True)
        ]

    def _account(
        self, key: int, i_customer: int, bill_status: str, owner_name: str, v: list[int]
    ) -> Json:
        activation = self._past[v[5] % 1500]
        blocked = "Y" if v[4] % 10 == 0 else "N"
        i_product = v[0] % 5
        opening = 0 if v[3] % 3 else (v[3] >> 8) % 10_000_000 / 100000
        credit = "null" if v[3] % 4 == 0 else repr((v[3] >> 16) % 100_000 / 100)
        expiry = "null" if v[6] % 7 else f'"{self._expiry[v[5] % 1500]}"'
        usage = (
            "null" if v[7] % 5 == 0 else f'"{self.stamp(self.window_start + v[7] % self.window_s)}"'
        )
        extras = v[HASH_EXTRAS]
        email = f',"email":"{account_email(key)}"' if has_email(extras) else ""
        status = _account_status(blocked, bill_status, extras)
        balance = (v[2] % 20_000_000 - 5_000_000) / 100000
        first, last = v[HASH_FIRSTNAME], v[HASH_LASTNAME]
        extension = (
            f',"extension_id":"{10000 + key}","extension_name":{_FULL[name_code(first, last)]}'
            if has_extension(extras)
            else ""
        )
        return Json(
            f'{{"i_account":{key},"id":"{15550000000 + key}","i_customer":{i_customer},'
            f'"customer_name":{owner_name},"i_product":{i_product + 1},'
            f'"product_name":{_PRODUCTS[i_product]},'
            f'"iso_4217":{_CURRENCIES[v[1] % 3]},"balance":{balance!r},'
            f'"opening_balance":{opening!r},"credit_limit":{credit},"blocked":"{blocked}",'
            f'"bill_status":"{bill_status}","is_active":{1 if bill_status == "O" else 0},'
            f'"billing_model":{_BILLING_MODELS[v[6] % 4]},"activation_date":"{activation}",'
            f'"issue_date":"{activation}","expiration_date":{expiry},"last_usage":{usage},'
            f'"login":"acct{key}","password":"{_secret(v[8], 12)}",'
            f'"h323_password":"{_secret(v[9], 10)}","api_token":"{v[10]:016x}{v[8] ^ v[9]:016x}",'
            f'"firstname":{_FIRST[first % len(_FIRST)]},"lastname":{_LAST[last % len(_LAST)]},'
            f'"time_zone_name":{_TIME_ZONES[(v[5] >> 16) % len(_TIME_ZONES)]},'
            f'"sip_status":{v[3] >> 40 & 1},"alias_did_number_list":{_dids(key, v[HASH_ALIASES])}'
            f"{extension},"
            f'"service_features":{self._features(v[7])},"assigned_addons":{self._addons(v[9])}'
            f"{email}{status}}}".encode()
        )

    def _features(self, value: int) -> str:
        """`service_features` JSON; its few shapes are encoded once and cached."""
        shape = value % 240
        text = self._features_cache.get(shape)
        if text is None:
            features = _service_features(shape % 3, shape % 2, shape // 6)
            text = self._features_cache.setdefault(shape, to_json(features).decode())
        return text

    def _addons(self, value: int) -> str:
        """`assigned_addons` JSON; its few shapes are encoded once and cached."""
        shape = value % 1200
        text = self._addons_cache.get(shape)
        if text is None:
            addons = _addon_list((shape // 3 % ADDONS, shape // 60)[: shape % 3], self.window_start)
            text = self._addons_cache.setdefault(shape, to_json(addons).decode())
        return text

    def customers(self, keys: Sequence[int]) -> list[Json]:
        """Customer records for `keys`."""
        rows = hash_rows(self.seed, KIND_CUSTOMER, keys, 8)
        return [self._customer(key, v) for key, v in zip(keys, rows, strict=True)]

    def _customer(self, key: int, v: list[int]) -> Json:
        bill_status = "C" if v[4] % 25 == 0 else "S" if v[4] % 25 == 1 else "O"
        record: Record = {
            "i_customer": key,
            "name": customer_name(key, v[0]),
            "login": f"cust{key}",
            "password": _secret(v[1], 11),
            "balance": _money(v[2], 100_000_000),
            "credit_limit": None if v[3] % 3 == 0 else float((v[3] >> 8) % 1_000 * 100),
            "iso_4217": ("USD", "EUR", "GBP")[v[3] % 3],
            "blocked": "Y" if v[5] % 12 == 0 else "N",
            "bill_status": bill_status,
            "creation_date": self.stamp(self.window_start - 86400 - v[6] % (86400 * 2000)),
            "i_customer_type": 1,
        }
        record["i_office_type"], main_office = office(key)
        if main_office is not None:
            record["i_main_office"] = main_office
        if v[7] % 5:
            record["email"] = f"billing{key}@example.org"
        if bill_status != "O":
            record["status"] = "closed" if bill_status == "C" else "suspended"
        return to_json(record)

    def customer_names(self, keys: Sequence[int]) -> list[str]:
        """The derived `name` of each customer, JSON-encoded (computed once per customer)."""
        missing = sorted({key for key in keys if key not in self._names})
        if missing:
            firsts = hash_column(self.seed, KIND_CUSTOMER, np.asarray(missing, np.int64), 0)
            for key, value in zip(missing, firsts.tolist(), strict=True):
                self._names[key] = json.dumps(customer_name(key, value), ensure_ascii=False)
        return [self._names[key] for key in keys]

    def xdrs(
        self, i_xdrs: Sequence[int], i_accounts: Sequence[int], bill_times: Sequence[int]
    ) -> list[Json]:
        """xDR records for ids whose accounts and billing times are already known."""
        rows = hash_rows(self.seed, KIND_XDR, i_xdrs, 8)
        return [self._xdr(*args) for args in zip(i_xdrs, i_accounts, bill_times, rows, strict=True)]

    def _xdr(self, i_xdr: int, i_account: int, bill: int, v: list[int]) -> Json:
        failed = 1 if v[0] % 12 == 0 else 0
        duration = 0 if failed else v[1] % 3600
        connect = bill - duration
        cause = _CAUSES[v[2] % len(_CAUSES)] if failed else 16
        unix = f'"{connect}"' if v[4] % 10 == 0 else str(connect)
        cause_text = f'"{cause}"' if v[4] % 4 == 1 else str(cause)
        unix_end = f'"{bill}"' if v[4] % 10 == 0 else str(bill)
        call_id = f',"call_id":"{v[7]:016x}@sbc.example.net"' if v[6] % 9 else ""
        charged = _money(v[5], 500_000) if duration else 0
        return Json(
            f'{{"i_xdr":{i_xdr},"i_account":{i_account},"CLI":"{account_id(i_account)}",'
            f'"CLD":"{442000000000 + v[3] % 10**10}","connect_time":"{self.stamp(connect)}",'
            f'"disconnect_time":"{self.stamp(bill)}","bill_time":"{self.stamp(bill)}",'
            f'"unix_connect_time":{unix},"charged_amount":{charged!r},"charged_quantity":{duration},'
            f'"disconnect_cause":{cause_text},"disconnect_reason":{_REASONS[cause]},'
            f'"unix_disconnect_time":{unix_end},"failed":{failed},"bit_flags":{v[6] % 256},'
            f'"description":{_DESCRIPTIONS[v[7] % len(_DESCRIPTIONS)]}{call_id}}}'.encode()
        )


def _dids(i_account: int, value: int) -> str:
    """`alias_did_number_list`: the DIDs of the account's aliases (most accounts have none)."""
    count = ALIAS_COUNTS[alias_pick(value)]
    dids = [f'{{"did_number":"{alias_number(i_account, n)}"}}' for n in range(count)]
    return f"[{','.join(dids)}]"


def _account_status(blocked: str, bill_status: str, value: int) -> str:
    """The `status` member, absent when the account is ok."""
    if bill_status == "C":
        return ',"status":"closed"'
    if blocked == "Y":
        return ',"status":"blocked"'
    return ',"status":"credit_exceeded"' if value % 30 == 0 else ""


def _service_features(count: int, flag: int, policy: int) -> list[Record]:
    features: list[Record] = [
        {
            "name": "netaccess_policy",
            "flag_value": "~",
            "effective_flag_value": "Y" if flag else "N",
            "attributes": [
                {"name": "access_policy", "values": [], "effective_values": [str(policy)]}
            ],
        },
        {
            "name": "voice_authentication",
            "flag_value": "Y",
            "effective_flag_value": "Y",
            "attributes": [],
        },
    ]
    return features[:count]


def addon_key(pick: int) -> int:
    """The `i_product` of add-on product number `pick` (0 to `ADDONS` - 1)."""
    return 100 + pick


def addon_name(pick: int) -> str:
    """The name of add-on product number `pick`."""
    return f"Add-on pack {pick}"


def _addon_list(picks: tuple[int, ...], window_start: int) -> list[Record]:
    return [
        {
            "i_product": addon_key(pick),
            "name": addon_name(pick),
            "addon_effective_from": utc(window_start - 86400 * (1 + n)),
            "addon_priority": 10 * (n + 1),
        }
        for n, pick in enumerate(picks)
    ]
