"""ESPF-style provisioning events recorded for every mutation."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One recorded event; `changed` names the fields an update touched."""

    i_event: int
    event_type: str
    id_name: str
    id_value: int
    changed: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        """The ESPF delivery body with integer ids."""
        return {
            "event_type": self.event_type,
            "variables": {"i_event": self.i_event, self.id_name: self.id_value},
        }
