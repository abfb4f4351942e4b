"""The built-in entities: customers, accounts and their xDRs, then the billing entities."""

from connector.entities.billing import (
    DIDS,
    INVOICES,
    PAYMENTS,
    PRODUCTS,
    SUBSCRIPTION_PLANS,
    VENDOR_XDRS,
    VENDORS,
)
from connector.entities.declaration import (
    DailyPartitions,
    DateFilter,
    Entity,
    EventRoute,
    InfoRead,
    ListMethod,
    PerParent,
    Registry,
)
from connector.entities.xdr_columns import CALL_COLUMNS
from connector.store.tables import (
    TableSpec,
    date_col,
    flag_col,
    int_col,
    json_col,
    money_col,
    text_col,
    time_col,
)

CUSTOMERS = Entity(
    table=TableSpec(
        name="customers",
        key="i_customer",
        columns=(
            int_col("i_customer", "Customer id (one row per customer)."),
            text_col("name", "Customer name."),
            text_col("email", "Contact e-mail address."),
            text_col("login", "Self-care login."),
            money_col("balance", "Current balance, in the customer's currency."),
            money_col("credit_limit", "Credit limit; null when none is set."),
            text_col("iso_4217", "Currency code (ISO 4217)."),
            flag_col("blocked", "Whether the customer is blocked."),
            text_col("bill_status", "Billing status: `O` open, `S` suspended, `C` closed."),
            text_col("status", "Status text; absent (null) when all is well."),
            time_col("creation_date", "When the customer was created (UTC)."),
            int_col("i_customer_type", "Customer type id."),
            int_col("i_office_type", "Office type id (none, main office or branch)."),
            int_col("i_main_office", "The main office of a branch office."),
        ),
    ),
    description="All PortaBilling customers, a full snapshot.",
    source=ListMethod("Customer", "get_customer_list", "customer_list", "i_customer"),
    reread=InfoRead("Customer", "get_customer_info", "customer_info", "i_customer"),
    events=(EventRoute("Customer", "i_customer"), EventRoute("Invoice", "i_customer")),
)

ACCOUNTS = Entity(
    table=TableSpec(
        name="accounts",
        key="i_account",
        columns=(
            int_col("i_account", "Account id (one row per account)."),
            int_col("i_customer", "The customer owning the account."),
            int_col("i_product", "The account's main product."),
            int_col("i_master_account", "The account this one is an alias of, if any."),
            text_col("id", "The account's `id`, its name on the network (often a phone number)."),
            text_col("login", "Self-care login."),
            text_col("product_name", "Name of the main product."),
            text_col("iso_4217", "Currency code (ISO 4217)."),
            money_col("balance", "Current balance, in the account's currency."),
            money_col("opening_balance", "Balance the account was opened with."),
            money_col("credit_limit", "Credit limit; null when none is set."),
            flag_col("blocked", "Whether the account is blocked."),
            text_col("bill_status", "Billing status: `O` open, `I` inactive, `C` closed."),
            text_col("status", "Status text; absent (null) when all is well."),
            flag_col("is_active", "Whether the account is active."),
            int_col("billing_model", "Billing model: -1 debit, 1 credit, ..."),
            date_col("activation_date", "Activation date."),
            date_col("expiration_date", "Expiration date, if any."),
            date_col("issue_date", "Issue date."),
            time_col("last_usage", "Last time the account was used (UTC)."),
            text_col("firstname", "Subscriber's first name."),
            text_col("lastname", "Subscriber's last name."),
            text_col("email", "Subscriber's e-mail address."),
            text_col("customer_name", "Name of the owning customer, as of the last read."),
            text_col("time_zone_name", "Subscriber's time zone name."),
            int_col("sip_status", "SIP registration status code."),
            text_col("extension_id", "Extension number, for a PBX extension."),
            text_col("extension_name", "Extension name, for a PBX extension."),
            json_col("alias_did_number_list", "DID numbers aliased to the account (JSON)."),
            json_col("service_features", "Service features and their settings (JSON)."),
            json_col("assigned_addons", "Add-on products assigned to the account (JSON)."),
            json_col("included_services", "Included services (JSON)."),
        ),
    ),
    description="All PortaBilling accounts, a full drift-repaired snapshot.",
    source=ListMethod("Account", "get_account_list", "account_list", "i_account"),
    reread=InfoRead("Account", "get_account_info", "account_info", "i_account"),
    events=(EventRoute("Subscriber", "i_account"), EventRoute("Account", "i_account")),
)

XDRS = Entity(
    table=TableSpec(
        name="xdrs",
        key="i_xdr",
        columns=(
            int_col("i_xdr", "xDR id (one row per xDR)."),
            int_col("i_account", "The account charged."),
            *CALL_COLUMNS,
            int_col("unix_connect_time", "`connect_time` in Unix seconds."),
            int_col("unix_disconnect_time", "`disconnect_time` in Unix seconds."),
            money_col("charged_amount", "Amount charged, in the account's currency."),
            int_col("charged_quantity", "Quantity charged (seconds, messages, bytes...)."),
            text_col("disconnect_cause", "Disconnect cause code."),
            text_col("disconnect_reason", "Disconnect reason as text."),
            flag_col("failed", "Whether the attempt failed."),
            int_col("bit_flags", "The xDR's bit flags."),
            text_col("call_id", "Call id of the session; null where the API leaves it out."),
            text_col("description", "Description of the charge."),
        ),
    ),
    description="Usage records (xDRs) by UTC day of billing time, fetched per customer.",
    source=PerParent(
        parent="customers",
        parent_id="i_customer",
        method=ListMethod(
            "Customer",
            "get_customer_xdrs",
            "xdr_list",
            "i_xdr",
            DateFilter(after="from_date", before="to_date"),
        ),
    ),
    refresh=DailyPartitions(),
)

BUILT_IN = Registry(
    [
        CUSTOMERS,
        ACCOUNTS,
        XDRS,
        INVOICES,
        PAYMENTS,
        PRODUCTS,
        SUBSCRIPTION_PLANS,
        DIDS,
        VENDORS,
        VENDOR_XDRS,
    ]
)
