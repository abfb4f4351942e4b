"""The billing entities: invoices, payments, products, plans, DIDs, vendors and vendor xDRs.

Beyond the method names, most facts here are assumed (docs/billing-tables.md lists each): a wrong
one is a one-line change in a declaration, and fields nobody declared are kept (the schema widens).
"""

from connector.entities.declaration import (
    DailyPartitions,
    DateFilter,
    Entity,
    EventRoute,
    InfoRead,
    ListMethod,
    LookupRead,
    PerParent,
    RecentWindow,
)
from connector.entities.xdr_columns import CALL_COLUMNS
from connector.store.tables import (
    TableSpec,
    date_col,
    flag_col,
    int_col,
    money_col,
    text_col,
    time_col,
)

INVOICE_WINDOW_SETTING = "PORTABILLING_INVOICE_WINDOW_DAYS"

INVOICES = Entity(
    table=TableSpec(
        name="invoices",
        key="i_invoice",
        columns=(
            int_col("i_invoice", "Invoice id (one row per invoice)."),
            text_col("invoice_number", "Invoice number; unique only per customer or reseller."),
            int_col("i_customer", "The customer invoiced."),
            date_col("issue_date", "Day the invoice was issued."),
            date_col("period_from", "First day of the billing period."),
            date_col("period_to", "Last day of the billing period."),
            date_col("due_date", "Day payment is due."),
            money_col("amount_net", "Amount before taxes, in the invoice's currency."),
            money_col("amount_due", "Amount due, taxes included."),
            money_col("amount_paid", "Amount paid so far."),
            text_col("iso_4217", "Currency code (ISO 4217)."),
            text_col("invoice_status", "Status text: Open, Paid, Partially paid, Overdue, Void."),
            int_col("i_invoice_status", "Status code matching `invoice_status`."),
            flag_col("is_void", "Whether the invoice was voided."),
        ),
    ),
    description=(
        "PortaBilling invoices; each run re-reads the recent window (issue date) and merges by key."
    ),
    source=ListMethod(
        "Invoice",
        "get_invoice_list",
        "invoice_list",
        "i_invoice",
        DateFilter("issued_after", "issued_before", format="%Y-%m-%d"),
    ),
    refresh=RecentWindow(window_days=60, setting=INVOICE_WINDOW_SETTING),
    reread=InfoRead("Invoice", "get_invoice_info", "invoice_info", "i_invoice"),
    events=(EventRoute("Invoice", "i_invoice"),),
)

PAYMENTS = Entity(
    table=TableSpec(
        name="payments",
        key="i_payment_transaction",
        columns=(
            int_col("i_payment_transaction", "Payment transaction id (one row per transaction)."),
            int_col("i_customer", "The customer who paid."),
            int_col("i_invoice", "The invoice the payment went to, if any."),
            money_col("amount", "Amount of the transaction."),
            text_col("iso_4217", "Currency code (ISO 4217)."),
            time_col("payment_time", "When the transaction happened (UTC)."),
            int_col("i_payment_method", "Payment method id."),
            text_col("payment_method", "Payment method name."),
            text_col("transaction_status", "Outcome of the transaction, e.g. completed, failed."),
            text_col("x_transaction_id", "The payment processor's transaction id."),
        ),
    ),
    description="All PortaBilling payment transactions, a full snapshot.",
    source=ListMethod(
        "Payment",
        "get_payment_transaction_list",
        "payment_transaction_list",
        "i_payment_transaction",
    ),
)

PRODUCTS = Entity(
    table=TableSpec(
        name="products",
        key="i_product",
        columns=(
            int_col("i_product", "Product id (one row per product or add-on)."),
            text_col("name", "Product name."),
            text_col("description", "Product description."),
            text_col("iso_4217", "Currency code (ISO 4217)."),
            flag_col("is_addon", "Whether this is an add-on product."),
            int_col("i_subscription", "The subscription plan the product charges through."),
            flag_col("hidden", "Whether the product is hidden from selection."),
        ),
    ),
    description="All PortaBilling products and add-ons, a full snapshot.",
    source=ListMethod("Product", "get_product_list", "product_list", "i_product"),
)

SUBSCRIPTION_PLANS = Entity(
    table=TableSpec(
        name="subscription_plans",
        key="i_subscription",
        columns=(
            int_col("i_subscription", "Subscription plan id (one row per plan)."),
            text_col("name", "Plan name."),
            text_col("iso_4217", "Currency code (ISO 4217)."),
            text_col("billing_period", "How often the fee is charged, e.g. monthly."),
            money_col("periodic_fee", "Fee charged each billing period."),
            money_col("activation_fee", "Fee charged once on activation."),
            time_col("effective_from", "When the plan takes effect (UTC)."),
        ),
    ),
    description="All PortaBilling subscription plans, a full snapshot.",
    source=ListMethod(
        "Subscription", "get_subscription_list", "subscription_list", "i_subscription"
    ),
)

NUMBER_LIST = ListMethod("DID", "get_number_list", "number_list", "i_did_number")

DIDS = Entity(
    table=TableSpec(
        name="dids",
        key="i_did_number",
        columns=(
            int_col("i_did_number", "DID id (one row per number in the inventory)."),
            text_col("number", "The phone number."),
            int_col("i_customer", "The customer holding the number, if assigned."),
            int_col("i_account", "The account the number is assigned to, if any."),
            int_col("i_vendor", "The vendor the number is bought from."),
            text_col("usage", "Usage: `I` in use, `F` free."),
            flag_col("frozen", "Whether the number is frozen (not to be assigned)."),
            text_col("iso_4217", "Currency code (ISO 4217)."),
            money_col("periodic_fee", "The number's periodic fee."),
        ),
    ),
    description="All DID numbers of the inventory, a full snapshot.",
    source=NUMBER_LIST,
    # DID events name the `number`, not `i_did_number`: the list's `number` filter finds it.
    reread=LookupRead("number", NUMBER_LIST),
    events=(EventRoute("DID", "number"),),
)

VENDORS = Entity(
    table=TableSpec(
        name="vendors",
        key="i_vendor",
        columns=(
            int_col("i_vendor", "Vendor id (one row per vendor)."),
            text_col("name", "Vendor name."),
            text_col("iso_4217", "Currency code (ISO 4217)."),
            money_col("balance", "Current balance with the vendor."),
            flag_col("blocked", "Whether the vendor is blocked."),
            time_col("creation_date", "When the vendor was created (UTC)."),
            text_col("login", "The vendor's login."),
        ),
    ),
    description="All PortaBilling vendors (carriers), a full snapshot.",
    source=ListMethod("Vendor", "get_vendor_list", "vendor_list", "i_vendor"),
)

VENDOR_XDRS = Entity(
    table=TableSpec(
        name="vendor_xdrs",
        key="i_xdr",
        columns=(
            int_col("i_xdr", "xDR id (one row per vendor xDR)."),
            int_col("i_vendor", "The vendor that carried the call."),
            *CALL_COLUMNS,
            money_col("charged_amount", "The vendor's cost, in the vendor's currency."),
            text_col("iso_4217", "Currency code of the cost (ISO 4217)."),
            int_col("charged_quantity", "Quantity charged (seconds, messages, bytes...)."),
            flag_col("failed", "Whether the attempt failed."),
            text_col("disconnect_cause", "Disconnect cause code."),
            text_col("call_id", "Call id of the session; null where the API leaves it out."),
        ),
    ),
    description="What traffic cost: vendor xDRs by UTC day of billing time, fetched per vendor.",
    source=PerParent(
        parent="vendors",
        parent_id="i_vendor",
        method=ListMethod(
            "Vendor", "get_xdr_list", "xdr_list", "i_xdr", DateFilter("from_date", "to_date")
        ),
    ),
    refresh=DailyPartitions(),
)
