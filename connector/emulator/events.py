"""ESPF-style provisioning events: recorded for every mutation, delivered to a webhook on demand."""

import base64
import hashlib
import hmac
import random
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import requests

# ("basic", user, password) | ("custom", type, credential) | ("signature", key_id, shared_key)
WebhookAuth = tuple[str, str, str]
DELIVERY_ATTEMPTS = 3


@dataclass(frozen=True)
class Event:
    """One recorded event: the (name, value) ids it names and the (field, new value) changes."""

    i_event: int
    event_type: str
    variables: tuple[tuple[str, Any], ...]
    changes: tuple[tuple[str, Any], ...] = ()

    def body(self, *, string_ids: bool = False, legacy_type: bool = False) -> dict[str, Any]:
        """The ESPF delivery body; ids as strings or a fine-grained legacy type when asked."""
        ids: dict[str, Any] = {"i_event": self.i_event, **dict(self.variables)}
        if string_ids:
            ids = {name: str(value) for name, value in ids.items()}
        event_type = legacy_event_type(self) if legacy_type else self.event_type
        return {"event_type": event_type, "variables": ids}


_LEGACY_FIELDS = {
    "Subscriber": (
        "Account",
        {
            "balance": "BalanceChanged",
            "bill_status": "Status/Changed",
            "i_product": "Product/Changed",
        },
    ),
    "Customer": ("Customer", {"balance": "BalanceChanged", "bill_status": "Status/Changed"}),
}


def legacy_event_type(event: Event) -> str:
    """The older fine-grained type for an update where one fits (`Account/Blocked`, ...)."""
    group, _, action = event.event_type.partition("/")
    if action != "Updated" or not event.changes or group not in _LEGACY_FIELDS:
        return event.event_type
    prefix, by_field = _LEGACY_FIELDS[group]
    name, value = event.changes[0]
    if name == "blocked":
        return f"{prefix}/{'Blocked' if value == 'Y' else 'Unblocked'}"
    return f"{prefix}/{by_field[name]}" if name in by_field else event.event_type


def authorization(auth: WebhookAuth, date: str) -> str:
    """The `Authorization` header ESPF sends for one of its three schemes."""
    scheme, first, second = auth
    if scheme == "basic":
        return "Basic " + base64.b64encode(f"{first}:{second}".encode()).decode("ascii")
    if scheme == "custom":
        return f"{first} {second}"
    if scheme == "signature":
        digest = hmac.new(second.encode(), f"date: {date}".encode(), hashlib.sha1).digest()
        signature = base64.b64encode(digest).decode("ascii")
        return (
            f'Signature keyId="{first}",algorithm="hmac-sha1",headers="date",'
            f'signature="{signature}"'
        )
    raise ValueError(f"unknown webhook auth scheme {scheme!r}: use basic, custom or signature")


@dataclass
class DeliveryReport:
    """What a delivery run did: POSTs sent, distinct events acknowledged, every HTTP status seen."""

    sent: int = 0
    acknowledged: int = 0
    statuses: list[int] = field(default_factory=list)
    acknowledged_events: set[int] = field(default_factory=set, repr=False)


@dataclass(frozen=True)
class DeliveryOptions:
    """How unruly the delivery is: duplicate, shuffle, string ids, legacy types (rates are 0..1)."""

    duplicates: float = 0.0
    shuffle: bool = False
    string_ids: float = 0.0
    legacy_types: bool = False


def deliver(
    events: list[Event], url: str, auth: WebhookAuth, options: DeliveryOptions, rng: random.Random
) -> DeliveryReport:
    """POST each event (plus duplicate redeliveries) to `url`, retrying non-200s like ESPF."""
    authorization(auth, "")  # fail fast on a bad scheme, before anything is sent
    batch = [
        event for event in events for _ in range(2 if rng.random() < options.duplicates else 1)
    ]
    if options.shuffle:
        rng.shuffle(batch)
    report = DeliveryReport()
    with requests.Session() as http:
        for event in batch:
            body = event.body(
                string_ids=rng.random() < options.string_ids, legacy_type=options.legacy_types
            )
            if _post_until_acknowledged(http, url, auth, body, report):
                report.acknowledged_events.add(event.i_event)
    report.acknowledged = len(report.acknowledged_events)
    return report


def _post_until_acknowledged(
    http: requests.Session,
    url: str,
    auth: WebhookAuth,
    body: dict[str, Any],
    report: DeliveryReport,
) -> bool:
    for _ in range(DELIVERY_ATTEMPTS):
        date = formatdate(usegmt=True)
        headers = {"Date": date, "Authorization": authorization(auth, date)}
        try:
            status = http.post(url, json=body, headers=headers, timeout=10).status_code
        except requests.RequestException:
            status = 0  # unreachable receiver: ESPF keeps the event and retries
        report.sent += 1
        report.statuses.append(status)
        if status == 200:
            return True
    return False
