"""The raw ceiling: every page fetched by N concurrent raw requests and parsed; nothing kept."""

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

PAGE_SIZE = 1000
_local = threading.local()


def _session(headers: dict[str, str]) -> requests.Session:
    """One keep-alive session per worker thread."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
        _local.session.headers.update(headers)
    return _local.session


def call(url: str, headers: dict[str, str], method: str, params: dict[str, Any]) -> dict:
    """One request to `Service/method`, parsed."""
    answer = _session(headers).post(f"{url}/rest/{method}", json={"params": params}, timeout=60)
    answer.raise_for_status()
    return json.loads(answer.content)


def page_params(offset: int, total: bool = False, page_size: int = PAGE_SIZE) -> dict[str, int]:
    """`limit`/`offset`, and `get_total` on the page that reads it."""
    return {"limit": page_size, "offset": offset, **({"get_total": 1} if total else {})}


def fetch(url: str, headers: dict[str, str], offset: int, total: bool = False) -> dict:
    """One accounts page, parsed."""
    return call(url, headers, "Account/get_account_list", page_params(offset, total))


def login(url: str, user: str, password: str) -> dict[str, str]:
    """Headers that carry a fresh access token."""
    answer = requests.post(
        f"{url}/rest/Session/login", json={"params": {"login": user, "password": password}}
    ).json()
    return {"Authorization": f"Bearer {answer['access_token']}"}


def main() -> None:
    """Print rows and the fetch-phase seconds as one JSON line."""
    url, user, password, concurrency = *sys.argv[1:4], int(sys.argv[4])
    headers = login(url, user, password)
    started = time.monotonic()
    first = fetch(url, headers, 0, total=True)
    offsets = range(PAGE_SIZE, int(first["total"]), PAGE_SIZE)
    with ThreadPoolExecutor(concurrency) as pool:
        pages = pool.map(lambda offset: len(fetch(url, headers, offset)["account_list"]), offsets)
        rows = len(first["account_list"]) + sum(pages)
    print(json.dumps({"rows": rows, "fetch_s": time.monotonic() - started}))


if __name__ == "__main__":
    main()
