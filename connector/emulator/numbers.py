"""The other numbers an account answers on: its aliases and its PBX extension.

Both are read off the account record, so they agree with its `alias_did_number_list` and
`extension_id` / `extension_name`, mutations included.
"""

from connector.emulator.records import Json, Record, alias_key, decode, patch, to_json


def alias_records(account: Record) -> list[Json]:
    """`Account/get_alias_list` entries of an account: one alias account per DID it lists."""
    return [
        to_json(
            {
                "i_account": alias_key(account["i_account"], n),
                "id": did["did_number"],
                "i_master_account": account["i_account"],
                "i_customer": account["i_customer"],
                "blocked": account["blocked"],
            }
        )
        for n, did in enumerate(account.get("alias_did_number_list") or [])
    ]


def with_alias_lists(accounts: list[Json]) -> list[Json]:
    """Account records with their aliases as `alias_list` (`get_account_list`'s `with_aliases`)."""
    return [
        patch(text, {"alias_list": [decode(alias) for alias in alias_records(decode(text))]})
        for text in accounts
    ]


def extension_record(account: Record) -> Json | None:
    """The `Customer/get_extensions_list` entry of an account, None when it has no extension."""
    if account.get("extension_id") is None:
        return None
    return to_json(
        {
            "i_c_ext": account["i_account"],
            "id": account["extension_id"],
            "name": account.get("extension_name"),
            "type": "Account",
            "i_account": account["i_account"],
            "account_id": account["id"],
            "firstname": account.get("firstname"),
            "lastname": account.get("lastname"),
            "alias_did_number_list": account.get("alias_did_number_list") or [],
        }
    )
