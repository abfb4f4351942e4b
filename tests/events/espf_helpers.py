"""Helpers for event tests: ESPF deliveries and headers built independently of the product code."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import requests

from connector.entities import BUILT_IN
from connector.events import Event, parse_event

ROUTING = BUILT_IN.routing()

USER, PASSWORD = "espf", "s3cret-webhook-pw"
CUSTOM_TYPE, CUSTOM_CREDENTIAL = "Token", "custom-cred-123"
KEY_ID, SIGNING_KEY = "espf-key-1", "shared-signing-key"


def basic_header(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def signature_headers(epoch: float, key: str = SIGNING_KEY, key_id: str = KEY_ID) -> dict[str, str]:
    """Headers as ESPF signs them, computed here independently of the product code."""
    date = formatdate(epoch, usegmt=True)
    digest = hmac.new(key.encode(), f"date: {date}".encode(), hashlib.sha1).digest()
    signature = base64.b64encode(digest).decode()
    authorization = (
        f'Signature keyId="{key_id}",algorithm="hmac-sha1",headers="date",signature="{signature}"'
    )
    return {"Date": date, "Authorization": authorization}


def digest_header(body: bytes, algorithm: str = "SHA-256") -> dict[str, str]:
    """An RFC 3230 `Digest` header of `body`."""
    digest = hashlib.new(algorithm.replace("-", "").lower(), body).digest()
    return {"Digest": f"{algorithm}={base64.b64encode(digest).decode()}"}


def multi_signature_headers(
    epoch: float, body: bytes, names: tuple[str, ...], target: str = "post /events"
) -> dict[str, str]:
    """Headers signed over `names` in order (draft-cavage), with a `Digest` of `body`."""
    headers = {"Date": formatdate(epoch, usegmt=True), **digest_header(body)}
    values = {"date": headers["Date"], "digest": headers["Digest"], "(request-target)": target}
    signing_string = "\n".join(f"{name}: {values[name]}" for name in names)
    digest = hmac.new(SIGNING_KEY.encode(), signing_string.encode(), hashlib.sha1).digest()
    headers["Authorization"] = (
        f'Signature keyId="{KEY_ID}",algorithm="hmac-sha1",headers="{" ".join(names)}",'
        f'signature="{base64.b64encode(digest).decode()}"'
    )
    return headers


def delivery(i_event: int | str, event_type: str = "Subscriber/Updated", **variables: Any) -> bytes:
    """An ESPF delivery body."""
    if event_type.startswith(("Subscriber/", "Account/")):
        variables.setdefault("i_account", 1000 + int(i_event))
    if event_type.startswith(("Customer/", "Invoice/")):
        variables.setdefault("i_customer", 10 + int(i_event))
    return json.dumps(
        {"event_type": event_type, "variables": {"i_event": i_event, **variables}}
    ).encode()


def make_event(i_event: int, event_type: str = "Subscriber/Updated", **variables: Any) -> Event:
    payload = json.loads(delivery(i_event, event_type, **variables))
    return parse_event(payload, datetime(2026, 1, 1, tzinfo=UTC), ROUTING)


def post(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        f"{url}/events",
        data=body,
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
    )
