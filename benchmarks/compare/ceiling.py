"""The raw ceiling: every page fetched by N concurrent raw requests and parsed; nothing kept."""

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

PAGE_SIZE = 1000
_local = threading.local()


def _session(headers: dict[str, str]) -> requests.Session:
    """One keep-alive session per worker thread."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
        _local.session.headers.update(headers)
    return _local.session


def fetch(url: str, headers: dict[str, str], offset: int, total: bool = False) -> dict:
    """One page, parsed."""
    params = {"limit": PAGE_SIZE, "offset": offset, **({"get_total": 1} if total else {})}
    answer = _session(headers).post(
        f"{url}/rest/Account/get_account_list", json={"params": params}, timeout=60
    )
    answer.raise_for_status()
    return json.loads(answer.content)


def main() -> None:
    """Print rows and the fetch-phase seconds as one JSON line."""
    url, login, password, concurrency = *sys.argv[1:4], int(sys.argv[4])
    login_answer = requests.post(
        f"{url}/rest/Session/login", json={"params": {"login": login, "password": password}}
    ).json()
    headers = {"Authorization": f"Bearer {login_answer['access_token']}"}
    started = time.monotonic()
    first = fetch(url, headers, 0, total=True)
    offsets = range(PAGE_SIZE, int(first["total"]), PAGE_SIZE)
    with ThreadPoolExecutor(concurrency) as pool:
        pages = pool.map(lambda offset: len(fetch(url, headers, offset)["account_list"]), offsets)
        rows = len(first["account_list"]) + sum(pages)
    print(json.dumps({"rows": rows, "fetch_s": time.monotonic() - started}))


if __name__ == "__main__":
    main()
