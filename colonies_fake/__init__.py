"""colonies_fake: a pure-Python fake ColonyOS server for tests.

>>> from colonies_fake import FakeColonies
>>> from colonies_sync import FunctionSpec
>>> with FakeColonies() as fake:  # closing it stops its timers and ends blocked requests
...     colony = fake.add_colony("dev")
...     worker = fake.add_executor("dev", "worker-1", "test")
...     with fake.client(worker.prvkey) as client:
...         pid = client.submit_function_spec(FunctionSpec.create("f", "dev", "test")).processid
...         print(fake.process(pid).state.name)
WAITING

It models the real server's rules (authorisation, the process state machine,
assign, deadlines and their error texts) and answers the same envelopes.
"""

from colonies_fake._channels import ChannelLimits
from colonies_fake._clock import Clock, FakeClock, RealClock
from colonies_fake._core import FakeColonies
from colonies_fake._faults import Faults
from colonies_fake._keys import ColonyKeys, ExecutorKeys, UserKeys
from colonies_fake._replies import Reply
from colonies_fake._http import FakeColoniesServer
from colonies_fake._sandbox import Sandbox
from colonies_fake._transport import InProcessTransport

__all__ = [
    "ChannelLimits",
    "Clock",
    "ColonyKeys",
    "ExecutorKeys",
    "FakeClock",
    "FakeColonies",
    "FakeColoniesServer",
    "Faults",
    "InProcessTransport",
    "RealClock",
    "Reply",
    "Sandbox",
    "UserKeys",
]
