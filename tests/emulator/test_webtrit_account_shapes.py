"""Account-realm calls in the shapes WebTrit's PortaSwitch adapter sends them.

Request shapes reproduced from `WebTrit/webtrit_bss_adapter_python`,
`app/bss/adapters/portaswitch/api/account.py` (login, get_account_info, get_xdr_list, logout).
"""

from typing import Any

from connector.emulator import Emulator
from tests.emulator.conftest import Api


def _account_session(emu: Emulator, api: Api) -> dict[str, Any]:
    """The adapter's account login: `Session/login` with the account's own login and password."""
    account = emu.truth.accounts()[3]
    params = {"login": account["login"], "password": account["password"]}
    answer = api.call("Session/login", params)
    api.token = answer["access_token"]
    return {"account": account, "session": answer}


def test_account_login_answers_what_the_adapter_reads(emu: Emulator, api: Api) -> None:
    session = _account_session(emu, api)["session"]
    assert isinstance(session["expires_in"], int)
    assert {"access_token", "refresh_token"} <= session.keys()


def test_own_account_info_in_the_adapters_shape(emu: Emulator, api: Api) -> None:
    account = _account_session(emu, api)["account"]
    params = {"detailed_info": 1, "without_service_features": 1, "limit_alias_did_number_list": 100}
    assert (
        api.call("Account/get_account_info", params)["account_info"]["i_account"]
        == (account["i_account"])
    )


def test_own_xdrs_in_the_adapters_shape(emu: Emulator, api: Api) -> None:
    account = _account_session(emu, api)["account"]
    params = {
        "i_service_type": 3,
        "get_total": 1,
        "show_unsuccessful": 1,
        "limit": 4,
        "offset": 4,
        "from_date": "1970-01-01 00:00:00",
        "to_date": "9000-01-01 00:00:00",
    }
    answer = api.call("Account/get_xdr_list", params)
    assert answer["total"] == 10
    assert len(answer["xdr_list"]) == 4
    assert {x["i_account"] for x in answer["xdr_list"]} == {account["i_account"]}


def test_account_logout_then_again(emu: Emulator, api: Api) -> None:
    _account_session(emu, api)
    assert api.call("Session/logout", {"access_token": api.token}) == {"success": 1}
    code = api.fault("Session/logout", {"access_token": api.token})
    assert code == "Client.Session.logout.failed_to_process_access_token"
