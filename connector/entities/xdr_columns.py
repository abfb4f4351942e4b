"""The columns every xDR carries, whoever it is listed for (customers' accounts or vendors)."""

from connector.store.tables import text_col, time_col

CALL_COLUMNS = (
    text_col("CLI", "Calling number."),
    text_col("CLD", "Called number."),
    time_col("connect_time", "When the call or session connected (UTC)."),
    time_col("disconnect_time", "When it ended (UTC)."),
    time_col("bill_time", "When it was billed (UTC); the partition's day."),
)
