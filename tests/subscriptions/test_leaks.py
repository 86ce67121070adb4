"""A closed client or subscription leaves no thread, no socket and no server-side subscription behind.

Issue 5, Acceptance: assert on ``threading.enumerate()``. Over HTTP the
client's sockets are counted from /proc (sockets whose remote port is the
served fake's), and the served fake's connection threads must end too once it
has noticed the client went away.
"""

from __future__ import annotations

import threading
import time

from colonies_sync import ProcessState
from tests.subscriptions.helpers import (
    JOIN,
    Recorder,
    World,
    await_server_release,
    client_sockets,
    subscription_threads,
)


def test_closing_a_client_with_live_subscriptions_leaves_no_thread_socket_or_subscription(
    world: World, transport: str
) -> None:
    pid = world.run()
    waiting = world.submit()
    world.append(world.ex, pid, ["before"])
    client = world.client("submitter")
    sockets = client_sockets(client)  # the other clients' keep-alive connections to the server
    threads = set(threading.enumerate())
    recs = [Recorder() for _ in range(4)]
    subs = [
        client.subscribe_channel(pid, "chat", 0, 60, recs[0].on_item, **recs[0].callbacks()),
        client.subscribe_channel(pid, "chat", 0, None, recs[1].on_item, **recs[1].callbacks()),
        client.subscribe_process("dev", pid, ProcessState.SUCCESS, 60, recs[2].on_item, **recs[2].callbacks()),
        client.subscribe_process("dev", waiting, ProcessState.RUNNING, 60, recs[3].on_item, **recs[3].callbacks()),
    ]
    world.wait_subscribed(4)
    recs[0].wait_entries(1)
    recs[1].wait_entries(1)
    assert len(subscription_threads(threads)) == 4
    assert client_sockets(client) >= sockets + 4 * (transport == "http")  # four WebSockets
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 1.0  # prompt
    assert all(s.closed for s in subs)
    assert subscription_threads(threads) == []
    assert client_sockets(client) == sockets
    assert [(r.closes, r.errors) for r in recs] == [(1, [])] * 4
    await_server_release(world, pid)
    world.fake.wait_until(lambda: world.fake.subscriptions() == 0, JOIN)
    world.fake.wait_until(lambda: set(threading.enumerate()) <= threads, JOIN)  # the served fake's too


def test_closing_each_subscription_leaves_no_thread_or_socket(world: World) -> None:
    pid = world.run()
    client = world.client("submitter")
    client.get_process(pid)  # its keep-alive connection exists before we count
    sockets = client_sockets(client)
    threads = set(threading.enumerate())
    rec_channel, rec_process = Recorder(), Recorder()
    channel = client.subscribe_channel(pid, "chat", 0, 60, rec_channel.on_item, **rec_channel.callbacks())
    process = client.subscribe_process("dev", pid, ProcessState.FAILED, 60, rec_process.on_item)
    world.wait_subscribed(2, pid)
    for sub in (channel, process):
        started = time.monotonic()
        sub.close()
        assert time.monotonic() - started < 1.0
        assert sub.closed
    assert subscription_threads(threads) == []
    assert client_sockets(client) == sockets
    await_server_release(world, pid)
    world.fake.wait_until(lambda: set(threading.enumerate()) <= threads, JOIN)


def test_subscriptions_that_end_on_their_own_leave_no_thread(world: World) -> None:
    pid = world.run()
    client = world.client("submitter")
    threads = set(threading.enumerate())
    recs = [Recorder(), Recorder()]
    client.subscribe_channel(pid, "chat", 0, 30, recs[0].on_item, **recs[0].callbacks())
    client.subscribe_process("dev", pid, ProcessState.SUCCESS, 1, recs[1].on_item, **recs[1].callbacks())
    world.wait_subscribed(2, pid)
    world.fake.clock.advance(30)  # [] ends the channel one; the process one ends at its own deadline (1 s)
    for rec in recs:
        rec.wait_ended()
    world.fake.wait_until(lambda: not subscription_threads(threads), JOIN)
    world.fake.wait_until(lambda: world.fake.subscriptions() == 0, JOIN)
    assert [(r.closes, r.errors) for r in recs] == [(1, []), (1, [])]
