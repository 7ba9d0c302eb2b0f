"""Local HTTP server that behaves like Oracle WMS Cloud lgfapi, for tests, demo and benchmarks."""

from .faults import Fault
from .simulator import WmsSimulator

__all__ = ["Fault", "WmsSimulator"]
