"""What was billed and collected: invoices and payment transactions, derived from the seed.

Each customer is invoiced monthly on its own billing day, from `xdr_start` minus `HISTORY_DAYS`
to the end of the xDR window ("now" in the emulated world); each paid invoice has a completed
payment, some have a failed attempt before it.
"""

from datetime import date, timedelta
from typing import Any

from connector.emulator.config import EmulatorConfig
from connector.emulator.entity_tables import (
    DATE,
    DATETIME,
    Before,
    EntityEvents,
    EntityTable,
    Equals,
    Since,
)
from connector.emulator.records import KIND_INVOICE, KIND_PAYMENT, Record, decode, hash_rows
from connector.emulator.world import World

HISTORY_DAYS = 90
STATUS_CODES = {"Open": 1, "Paid": 2, "Partially paid": 3, "Overdue": 4, "Void": 5}
_TAX_RATES = (0.0, 0.1, 0.2)
_PAST_DUE = ("Paid",) * 8 + ("Partially paid", "Overdue")
_METHODS = ((1, "Credit Card"), (2, "Bank Transfer"), (3, "PayPal"))


def today(config: EmulatorConfig) -> date:
    """The emulated world's current day: the day after the xDR window."""
    return config.xdr_start + timedelta(days=config.xdr_days)


def money(value: int, span: int) -> float:
    """A JSON number with up to 5 decimals in [0, span) / 1e5."""
    return (value % span) / 100000


def _currencies(config: EmulatorConfig) -> dict[int, str]:
    """Each customer's `iso_4217`, as the customer list serves it."""
    customers = World(config).customer_page(0, None)[0]
    return {row["i_customer"]: row["iso_4217"] for row in map(decode, customers)}


def _issue_days(config: EmulatorConfig, billing_day: int) -> list[date]:
    """The days a customer billed on `billing_day` of each month got an invoice."""
    first, end = config.xdr_start - timedelta(days=HISTORY_DAYS), today(config)
    days, year, month = [], first.year, first.month
    while date(year, month, 1) < end:
        day = date(year, month, billing_day)
        if first <= day < end:
            days.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return days


def _month_before(day: date) -> date:
    """The same day a month earlier, or that month's last day when it is shorter."""
    last = day.replace(day=1) - timedelta(days=1)
    return last.replace(day=min(day.day, last.day))


def invoice_records(config: EmulatorConfig) -> list[Record]:
    """Every invoice, numbered by issue day then customer."""
    currencies = _currencies(config)
    days = hash_rows(config.seed, KIND_INVOICE, list(currencies), 1)
    issued = sorted(
        (day, i_customer)
        for i_customer, (value,) in zip(currencies, days, strict=True)
        for day in _issue_days(config, 1 + value % 28)
    )
    keys = [1 + n for n in range(len(issued))]
    # Offset so an invoice's values are not its customer's billing-day hash.
    rows = hash_rows(config.seed, KIND_INVOICE, [k + 1_000_000 for k in keys], 4)
    counts: dict[int, int] = {}
    invoices = []
    for key, (day, i_customer), v in zip(keys, issued, rows, strict=True):
        counts[i_customer] = counts.get(i_customer, 0) + 1
        invoice = _invoice(key, i_customer, day, v, today(config))
        invoice["invoice_number"] = f"{counts[i_customer]:06d}"  # unique per customer only
        invoice["iso_4217"] = currencies[i_customer]
        invoices.append(invoice)
    return invoices


def _invoice(key: int, i_customer: int, issued: date, v: list[int], now: date) -> Record:
    net = money(v[0], 50_000_000)
    due = round(net * (1 + _TAX_RATES[v[1] % 3]), 5)
    due_date = issued + timedelta(days=(15, 30)[v[1] % 2])
    status = _status(v[2], due_date < now)
    paid = {"Paid": due, "Partially paid": round(due / 2, 5)}.get(status, 0.0)
    owner = str(i_customer) if v[3] % 8 == 0 else i_customer
    return {"i_invoice": key, **_invoice_fields(owner, issued, due_date, (net, due, paid), status)}


def _invoice_fields(
    i_customer: int | str, issued: date, due: date, amounts: tuple[float, float, float], status: str
) -> Record:
    """An invoice's fields; `amounts` are net, due and paid."""
    return {
        "i_customer": i_customer,
        "issue_date": issued.isoformat(),
        "period_from": _month_before(issued).isoformat(),
        "period_to": (issued - timedelta(days=1)).isoformat(),
        "due_date": due.isoformat(),
        "amount_net": amounts[0],
        "amount_due": amounts[1],
        "amount_paid": amounts[2],
        "invoice_status": status,
        "i_invoice_status": STATUS_CODES[status],
        "is_void": "Y" if status == "Void" else "N",
    }


def _status(value: int, is_past_due: bool) -> str:
    """Most old invoices are paid; most recent ones are still open; a few are void."""
    if value % 40 == 0:
        return "Void"
    if is_past_due:
        return _PAST_DUE[value % 10]
    return "Paid" if value % 10 < 3 else "Open"


def paid(invoice: Record) -> dict[str, Any]:
    """The fields an invoice changes to once paid in full."""
    return {
        "amount_paid": invoice["amount_due"],
        "invoice_status": "Paid",
        "i_invoice_status": STATUS_CODES["Paid"],
    }


def voided() -> dict[str, Any]:
    """The fields an invoice changes to once voided."""
    return {"is_void": "Y", "invoice_status": "Void", "i_invoice_status": STATUS_CODES["Void"]}


def payment_records(config: EmulatorConfig) -> list[Record]:
    """A completed payment per (partly) paid invoice, a failed attempt before some, by time."""
    paid = [invoice for invoice in invoice_records(config) if invoice["amount_paid"]]
    values = hash_rows(config.seed, KIND_PAYMENT, [invoice["i_invoice"] for invoice in paid], 1)
    attempts: list[tuple[str, Record]] = []
    for invoice, (value,) in zip(paid, values, strict=True):
        attempts += payment_attempts(invoice, invoice["amount_paid"], value)
    attempts.sort(key=lambda pair: pair[0])
    return [{"i_payment_transaction": n, **row} for n, (_, row) in enumerate(attempts, 1)]


def payment_attempts(invoice: Record, amount: float, value: int) -> list[tuple[str, Record]]:
    """(time, payment) of an invoice's payment, after a failed attempt one time in five."""
    day = date.fromisoformat(invoice["issue_date"]) + timedelta(days=1 + value % 10)
    at = f"{day} {1 + value % 23:02d}:{value % 60:02d}:00"
    attempt = payment(invoice, amount, at, value)
    if value % 5:
        return [(at, attempt)]
    failed_at = f"{day} 00:{value % 60:02d}:00"
    failed = {**attempt, "payment_time": failed_at, "transaction_status": "failed"}
    return [(failed_at, {**failed, "x_transaction_id": f"tx{value ^ 1:016x}"}), (at, attempt)]


def payment(invoice: Record, amount: float, at: str, value: int) -> Record:
    """A completed payment of `amount` towards an invoice at `at` (UTC)."""
    i_method, method = _METHODS[value % 3]
    return {
        "i_customer": int(invoice["i_customer"]),
        "i_invoice": str(invoice["i_invoice"]) if value % 7 == 0 else invoice["i_invoice"],
        "amount": amount,
        "iso_4217": invoice["iso_4217"],
        "payment_time": at,
        "i_payment_method": i_method,
        "payment_method": method,
        "transaction_status": "completed",
        "x_transaction_id": f"tx{value:016x}",
        "payment_token": f"pt_{value >> 8:012x}",
    }


INVOICES = EntityTable(
    "Invoice",
    "get_invoice_list",
    "invoice_list",
    "i_invoice",
    records=invoice_records,
    name="invoices",
    info_method="get_invoice_info",
    info_key="invoice_info",
    filters=(
        Since("issued_after", "issue_date", DATE),
        Before("issued_before", "issue_date", DATE),
        Equals("i_customer"),
    ),
    churn=lambda row, key: {**row, "invoice_number": f"C{key:05d}"},
    events=EntityEvents("Invoice", ("i_customer", "i_invoice"), ("Created", "Updated")),
)

PAYMENTS = EntityTable(
    "Payment",
    "get_payment_transaction_list",
    "payment_transaction_list",
    "i_payment_transaction",
    records=payment_records,
    name="payments",
    info_method="get_payment_transaction_by_id",
    info_key="payment_transaction_info",
    filters=(
        Since("from_date", "payment_time", DATETIME),
        Before("to_date", "payment_time", DATETIME),
        Equals("i_customer"),
    ),
    churn=lambda row, key: {**row, "x_transaction_id": f"tx{key:016x}"},
)


def new_invoice(config: EmulatorConfig, i_customer: int, fields: dict[str, Any]) -> Record:
    """An open invoice issued today to a customer, with `fields` overriding the defaults."""
    issued = today(config)
    due = issued + timedelta(days=15)
    opened = _invoice_fields(i_customer, issued, due, (0.0, 0.0, 0.0), "Open")
    return {**opened, "invoice_number": f"N{issued:%Y%m%d}", "iso_4217": "USD", **fields}


def settlement(config: EmulatorConfig, invoice: Record) -> Record:
    """The payment that settles what an invoice still owes, made today."""
    owed = round(invoice["amount_due"] - invoice["amount_paid"], 5)
    at = f"{today(config)} 12:00:00"
    return payment(invoice, owed, at, int(invoice["i_invoice"]))
