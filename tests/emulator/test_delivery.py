"""ESPF-style delivery of recorded events to a webhook over real HTTP."""

import base64
import hashlib
import hmac

import pytest

from connector.emulator import Emulator
from tests.emulator.conftest import Webhook


def _mutate(emu: Emulator, count: int) -> None:
    for n in range(count):
        emu.update_account(1000 + n, balance=float(n))


def test_each_event_is_posted_once_with_basic_auth(emu: Emulator, webhook: Webhook) -> None:
    _mutate(emu, 3)
    report = emu.deliver_events(webhook.url, ("basic", "espf", "s3cret"))
    assert (report.sent, report.acknowledged, report.statuses) == (3, 3, [200, 200, 200])
    assert webhook.bodies() == emu.events
    headers = webhook.received[0][0]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"espf:s3cret").decode()
    assert headers["Content-Type"] == "application/json"
    assert headers["Date"].endswith("GMT")


def test_acknowledged_events_are_not_sent_again(emu: Emulator, webhook: Webhook) -> None:
    _mutate(emu, 2)
    emu.deliver_events(webhook.url, ("basic", "u", "p"))
    _mutate(emu, 1)
    report = emu.deliver_events(webhook.url, ("basic", "u", "p"))
    assert report.sent == 1
    assert [b["variables"]["i_event"] for b in webhook.bodies()] == [1, 2, 3]


def test_non_200_is_retried_then_left_pending(emu: Emulator, webhook: Webhook) -> None:
    _mutate(emu, 1)
    webhook.script = [503, 500, 401]
    report = emu.deliver_events(webhook.url, ("basic", "u", "p"))
    assert (report.sent, report.acknowledged, report.statuses) == (3, 0, [503, 500, 401])
    retry = emu.deliver_events(webhook.url, ("basic", "u", "p"))
    assert (retry.sent, retry.acknowledged) == (1, 1)


def test_custom_auth_header(emu: Emulator, webhook: Webhook) -> None:
    _mutate(emu, 1)
    emu.deliver_events(webhook.url, ("custom", "Token", "abc123"))
    assert webhook.received[0][0]["Authorization"] == "Token abc123"


def test_signature_auth_signs_the_date(emu: Emulator, webhook: Webhook) -> None:
    _mutate(emu, 1)
    emu.deliver_events(webhook.url, ("signature", "key-1", "shared"))
    headers = webhook.received[0][0]
    digest = hmac.new(b"shared", f"date: {headers['Date']}".encode(), hashlib.sha1).digest()
    expected = base64.b64encode(digest).decode()
    assert headers["Authorization"] == (
        f'Signature keyId="key-1",algorithm="hmac-sha1",headers="date",signature="{expected}"'
    )


def test_duplicates_shuffle_and_string_ids(emu: Emulator, webhook: Webhook) -> None:
    _mutate(emu, 30)
    report = emu.deliver_events(
        webhook.url, ("basic", "u", "p"), duplicates=0.5, shuffle=True, string_ids=0.5
    )
    ids = [b["variables"]["i_event"] for b in webhook.bodies()]
    assert report.sent == len(ids) > 30
    assert report.acknowledged == 30
    assert {int(i) for i in ids} == set(range(1, 31))
    assert {type(i) for i in ids} == {int, str}
    assert [int(i) for i in ids] != sorted(int(i) for i in ids)


def test_legacy_types(emu: Emulator, webhook: Webhook) -> None:
    emu.update_account(1000, blocked="Y")
    emu.update_account(1000, blocked="N")
    emu.update_account(1000, balance=3.0)
    emu.update_customer(1, balance=3.0)
    emu.update_account(1000, firstname="X")
    emu.delete_account(1000)
    emu.deliver_events(webhook.url, ("basic", "u", "p"), legacy_types=True)
    assert [b["event_type"] for b in webhook.bodies()] == [
        "Account/Blocked",
        "Account/Unblocked",
        "Account/BalanceChanged",
        "Customer/BalanceChanged",
        "Subscriber/Updated",
        "Subscriber/Deleted",
    ]


def test_unknown_auth_scheme_is_refused_before_sending(emu: Emulator, webhook: Webhook) -> None:
    _mutate(emu, 1)
    with pytest.raises(ValueError, match="scheme"):
        emu.deliver_events(webhook.url, ("digest", "u", "p"))
    assert webhook.received == []


def test_unreachable_receiver_reports_status_zero(emu: Emulator) -> None:
    _mutate(emu, 1)
    report = emu.deliver_events("http://127.0.0.1:9/events", ("basic", "u", "p"))
    assert (report.acknowledged, report.statuses) == (0, [0, 0, 0])
