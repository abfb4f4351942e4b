"""The emulator in its own process, with its request counters read over a pipe."""

import json
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks.compare.measure import on_cpus

HOST = Path(__file__).resolve().parent / "emulator_host.py"


class EmulatorProcess:
    """`with EmulatorProcess(accounts, latency_ms) as emulator:` serves until the block ends.

    With `cpus`, the emulator runs only on those CPUs (`--pin`); `config` sets further
    `EmulatorConfig` fields (JSON values).
    """

    def __init__(
        self,
        accounts: int,
        latency_ms: float,
        cwd: Path,
        cpus: set[int] | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        command = [sys.executable, str(HOST), str(accounts), str(latency_ms)]
        command += [json.dumps(config)] if config else []
        self._process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=on_cpus(cpus),  # safe: the harness starts no threads
        )
        self.url = str(self._ask(None)["url"])

    def _ask(self, command: str | None) -> dict[str, Any]:
        pipe_in, pipe_out = self._process.stdin, self._process.stdout
        assert pipe_in is not None and pipe_out is not None
        if command is not None:
            pipe_in.write(command + "\n")
            pipe_in.flush()
        line = pipe_out.readline()
        if not line:
            raise RuntimeError("the emulator process exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def reset(self) -> None:
        """Zero the request counters."""
        self._ask("reset")

    def counters(self) -> dict[str, Any]:
        """Requests served since the last reset."""
        return self._ask("counters")

    def xdr_calls(self) -> dict[int, int]:
        """`Customer/get_customer_xdrs` calls per customer since the last reset."""
        return {int(customer): n for customer, n in self._ask("xdr_calls").items()}

    def xdr_holders(self) -> set[int]:
        """Customers holding xDRs on the window's first day (ground truth)."""
        return set(self._ask("xdr_holders")["customers"])

    def __enter__(self) -> "EmulatorProcess":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._process.communicate(timeout=60)
