"""The dlt baseline: `rest_api` source, offset paginator in the JSON body, Parquet files.

dlt's own `OffsetPaginator` writes `limit`/`offset` into the body through `limit_body_path` /
`offset_body_path`, so no custom paginator is needed.
"""

import sys

import dlt
import requests
from dlt.sources.rest_api import rest_api_source

PAGE_SIZE = 1000
SECRETS = ("password", "h323_password", "api_token")


def access_token(url: str, login: str, password: str) -> str:
    """Bearer token from `Session/login`, as dlt has no PortaBilling auth of its own."""
    answer = requests.post(
        f"{url}/rest/Session/login",
        json={"params": {"login": login, "password": password}},
        timeout=60,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def source(url: str, token: str) -> object:
    """A one-resource rest_api source for `Account/get_account_list`."""
    return rest_api_source(
        {
            "client": {"base_url": f"{url}/rest/", "auth": {"type": "bearer", "token": token}},
            "resources": [
                {
                    "name": "accounts",
                    "primary_key": "i_account",
                    "write_disposition": "replace",
                    "columns": {name: {"data_type": "text"} for name in SECRETS},
                    "endpoint": {
                        "path": "Account/get_account_list",
                        "method": "POST",
                        "json": {"params": {"get_total": 1}},
                        "data_selector": "account_list",
                        "paginator": {
                            "type": "offset",
                            "limit": PAGE_SIZE,
                            "offset_body_path": "params.offset",
                            "limit_body_path": "params.limit",
                            "total_path": "total",
                        },
                    },
                }
            ],
        }
    )


def main() -> None:
    """Run the pipeline into `out`; print the rows loaded."""
    url, login, password, out, work = sys.argv[1:6]
    accounts = source(url, access_token(url, login, password))
    accounts.accounts.add_map(lambda row: {k: v for k, v in row.items() if k not in SECRETS})
    pipeline = dlt.pipeline(
        pipeline_name="portabilling_bench",
        pipelines_dir=work,
        destination=dlt.destinations.filesystem(bucket_url=out),
        dataset_name="portabilling",
    )
    info = pipeline.run(accounts, loader_file_format="parquet")
    print(pipeline.last_trace.last_normalize_info.row_counts.get("accounts", 0))
    info.raise_on_failed_jobs()


if __name__ == "__main__":
    main()
