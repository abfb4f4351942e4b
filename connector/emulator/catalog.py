"""What is sold and held: products, subscription plans, vendors and DID numbers.

Products are the ones accounts name (`i_product` / `product_name`, add-ons from
`assigned_addons`); DIDs are the numbers accounts list in `alias_did_number_list`, plus free ones.
"""

from datetime import timedelta
from typing import Any

import numpy as np

from connector.emulator.billing import money, today
from connector.emulator.config import EmulatorConfig
from connector.emulator.entity_tables import EntityEvents, EntityTable, Equals, Pattern
from connector.emulator.records import (
    ADDONS,
    ALIAS_COUNTS,
    HASH_ALIASES,
    KIND_ACCOUNT,
    KIND_DID,
    KIND_VENDOR,
    PRODUCT_NAMES,
    Record,
    addon_key,
    addon_name,
    alias_number,
    alias_pick,
    hash_column,
    hash_rows,
)
from connector.emulator.world import World

VENDORS = 5
FREE_DIDS = 20  # numbers in stock, assigned to nobody
_CURRENCIES = ("USD", "EUR", "GBP")
_PLANS = (
    ("Monthly basic", "monthly", 1),
    ("Monthly business", "monthly", 1),
    ("Quarterly saver", "quarterly", 3),
    ("Annual", "yearly", 12),
)
_CARRIERS = ("Atlantic Carrier", "Nordic Transit", "Σ Sigma Telecom", "Pacific Wholesale")


def product_records(config: EmulatorConfig) -> list[Record]:
    """The main products accounts use, then the add-ons."""
    main = [_product(n + 1, name, n % len(_PLANS) + 1, "N") for n, name in enumerate(PRODUCT_NAMES)]
    addons = [_product(addon_key(n), addon_name(n), None, "Y") for n in range(ADDONS)]
    return main + addons


def _product(key: int, name: str, i_subscription: int | None, is_addon: str) -> Record:
    return {
        "i_product": key,
        "name": name,
        "description": f"{name} ({'add-on' if is_addon == 'Y' else 'main product'})",
        "iso_4217": "USD",
        "is_addon": is_addon,
        "i_subscription": i_subscription,
        "hidden": "Y" if key % 11 == 0 else "N",
    }


def subscription_records(config: EmulatorConfig) -> list[Record]:
    """The subscription plans products charge through."""
    return [
        {
            "i_subscription": n,
            "name": name,
            "iso_4217": "USD",
            "billing_period": period,
            "periodic_fee": round(9.99 * months * (1 + n % 2), 5),
            "activation_fee": 0 if n % 2 else 4.5,
            "effective_from": "2020-01-01 00:00:00",
        }
        for n, (name, period, months) in enumerate(_PLANS, 1)
    ]


def vendor_records(config: EmulatorConfig) -> list[Record]:
    """The carriers that terminate the calls (vendor xDRs name them)."""
    rows = hash_rows(config.seed, KIND_VENDOR, list(range(1, VENDORS + 1)), 3)
    return [
        {
            "i_vendor": key,
            "name": f"{_CARRIERS[v[0] % len(_CARRIERS)]} #{key}",
            "iso_4217": _CURRENCIES[v[1] % 3],
            "balance": (v[2] % 100_000_000 - 50_000_000) / 100000,
            "blocked": "Y" if key == VENDORS else "N",
            "creation_date": f"{today(config) - timedelta(days=400 + key)} 08:00:00",
            "login": f"vendor{key}",
            "password": f"{v[0]:012x}",
        }
        for key, v in zip(range(1, VENDORS + 1), rows, strict=True)
    ]


def did_records(config: EmulatorConfig) -> list[Record]:
    """One DID per number an account lists, then free numbers in stock."""
    free: list[tuple[str, int | None, int | None]] = [
        (str(17770000000 + n), None, None) for n in range(FREE_DIDS)
    ]
    numbers = _alias_numbers(World(config), config.seed) + free
    rows = hash_rows(config.seed, KIND_DID, list(range(1, len(numbers) + 1)), 2)
    return [
        _did(key, *number, v)
        for key, number, v in zip(range(1, len(numbers) + 1), numbers, rows, strict=True)
    ]


def _alias_numbers(world: World, seed: int) -> list[tuple[str, int | None, int | None]]:
    """(number, account, owner) of every DID the accounts list, by number (vectorized)."""
    keys, owners = world.accounts.keys, world.accounts.columns["owner"]
    picks = alias_pick(hash_column(seed, KIND_ACCOUNT, keys, HASH_ALIASES))
    counts = np.asarray(ALIAS_COUNTS)[picks.astype(np.int64)]
    held = np.flatnonzero(counts)
    return sorted(
        (alias_number(key, n), key, owner)
        for key, owner, count in zip(
            keys[held].tolist(), owners[held].tolist(), counts[held].tolist(), strict=True
        )
        for n in range(count)
    )


def _did(key: int, number: str, account: int | None, owner: int | None, v: list[int]) -> Record:
    return {
        "i_did_number": key,
        "number": number,
        "i_customer": owner,
        "i_account": None if account is None else str(account),
        "i_vendor": 1 + v[0] % VENDORS,
        "usage": "F" if account is None else "I",
        "frozen": "Y" if v[1] % 17 == 0 else "N",
        "iso_4217": "USD",
        "periodic_fee": money(v[1], 500_000),
    }


def new_did(number: str, fields: dict[str, Any]) -> Record:
    """A free number in stock, with `fields` overriding the defaults."""
    free = {"number": number, "i_customer": None, "i_account": None, "i_vendor": 1, "usage": "F"}
    return {**free, "frozen": "N", "iso_4217": "USD", "periodic_fee": 0.0, **fields}


PRODUCTS = EntityTable(
    "Product",
    "get_product_list",
    "product_list",
    "i_product",
    records=product_records,
    name="products",
)
SUBSCRIPTIONS = EntityTable(
    "Subscription",
    "get_subscription_list",
    "subscription_list",
    "i_subscription",
    records=subscription_records,
    name="subscription_plans",
)
VENDOR_TABLE = EntityTable(
    "Vendor",
    "get_vendor_list",
    "vendor_list",
    "i_vendor",
    records=vendor_records,
    name="vendors",
    info_method="get_vendor_info",
    info_key="vendor_info",
)
DIDS = EntityTable(
    "DID",
    "get_number_list",
    "number_list",
    "i_did_number",
    records=did_records,
    name="dids",
    info_method="get_number_info",
    info_key="number_info",
    filters=(Equals("i_customer"), Equals("i_vendor"), Equals("usage"), Pattern("number")),
    churn=lambda row, key: {**row, "number": str(18880000000 + key)},
    events=EntityEvents("DID", ("number",)),
)
