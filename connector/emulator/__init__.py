"""The bundled PortaBilling emulator: a faithful local server for demo, tests and benchmarks."""

from connector.emulator.config import EmulatorConfig
from connector.emulator.emulator import Emulator

__all__ = ["Emulator", "EmulatorConfig"]
