"""A local push service for tests, benchmarks and the demo: validates pushes like Mozilla's
autopush, decrypts them for simulated browsers, and speaks autopush's WebSocket protocol to a
real Firefox. See docs/architecture.md, "The local push service"."""

from pushgate.testing.browser import SimulatedBrowser
from pushgate.testing.faults import Fault
from pushgate.testing.records import Ack, ReceivedMessage, RecordedRequest
from pushgate.testing.serve import serve_forever
from pushgate.testing.service import LocalPushService

__all__ = [
    "Ack",
    "Fault",
    "LocalPushService",
    "ReceivedMessage",
    "RecordedRequest",
    "SimulatedBrowser",
    "serve_forever",
]
