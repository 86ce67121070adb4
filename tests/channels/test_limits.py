"""Channel limits, each hit with its exact error (PROTOCOL.md 8.6; checklist 39)."""

from __future__ import annotations

from colonies_fake import ChannelLimits, FakeClock, FakeColonies
from colonies_sync import ChannelFull, InternalServerError, PayloadTooLarge, RateLimitExceeded
from tests.channels.helpers import CHANNEL_FULL, PAYLOAD_TOO_LARGE, RATE_LIMITED, build_world, server_error


def test_channel_limits_default_to_the_real_servers() -> None:
    limits = ChannelLimits()
    assert limits.max_payload == 10 * 1024 * 1024 == 10_485_760
    assert limits.max_entries == 10_000
    assert limits.max_channels == 100
    assert limits.rate_burst == 500
    assert limits.rate_per_second == 100


def test_a_fake_without_limits_uses_the_real_defaults_and_rate_limits() -> None:
    with FakeColonies(clock=FakeClock()) as fake:
        assert fake.limits == ChannelLimits()
        assert fake.rate_limit is True


def test_limit_errors_are_internal_server_errors() -> None:
    for cls in (RateLimitExceeded, ChannelFull, PayloadTooLarge):
        assert issubclass(cls, InternalServerError)


# --- payload size -----------------------------------------------------------------------------


def test_payload_of_exactly_max_is_accepted_one_more_byte_is_refused(make_world) -> None:
    world = make_world(max_payload=100)
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, b"\xff" * 100)
    with server_error(PayloadTooLarge, 500, PAYLOAD_TOO_LARGE):
        world.sub.channel_append(pid, "chat", 2, 0, b"\xff" * 101)
    assert [len(e.payload) for e in world.fake.channel_log(pid, "chat")] == [100]


def test_payload_size_counts_decoded_bytes_not_base64_or_characters(make_world) -> None:
    """base64 of 99 bytes is 132 characters; "é" * 50 is 50 characters but 100 UTF-8 bytes."""
    world = make_world(max_payload=100)
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, b"x" * 99)
    world.sub.channel_append(pid, "chat", 2, 0, "é" * 50)
    with server_error(PayloadTooLarge, 500, PAYLOAD_TOO_LARGE):
        world.sub.channel_append(pid, "chat", 3, 0, "é" * 51)


def test_oversized_payload_takes_no_rate_token(make_world) -> None:
    world = make_world(max_payload=4, rate_burst=2, rate_per_second=1.0)
    pid = world.submit()
    for i in range(3):
        with server_error(PayloadTooLarge, 500, PAYLOAD_TOO_LARGE):
            world.sub.channel_append(pid, "chat", i, 0, b"12345")
    world.sub.channel_append(pid, "chat", 10, 0, b"1")
    world.sub.channel_append(pid, "chat", 11, 0, b"2")


# --- entries per channel ----------------------------------------------------------------------


def test_entry_after_max_entries_is_refused_with_channel_log_is_full(make_world) -> None:
    world = make_world(max_entries=3)
    pid = world.run(["chat", "other"])
    world.sub.channel_append(pid, "chat", 1, 0, "1")
    world.ex.channel_append(pid, "chat", 1, 0, "2")
    world.sub.channel_append(pid, "chat", 2, 0, "3")
    for client in (world.sub, world.ex):
        with server_error(ChannelFull, 500, CHANNEL_FULL):
            client.channel_append(pid, "chat", 9, 0, "4")
    assert [e.text for e in world.sub.channel_read(pid, "chat")] == ["1", "2", "3"]
    world.sub.channel_append(pid, "other", 1, 0, "another channel has room")


def test_full_log_is_not_evicted(make_world) -> None:
    """No "oldest removed": the log stays full and unchanged after refusals."""
    world = make_world(max_entries=2)
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "a")
    world.sub.channel_append(pid, "chat", 2, 0, "b")
    for seq in (3, 0):
        with server_error(ChannelFull, 500, CHANNEL_FULL):
            world.sub.channel_append(pid, "chat", seq, 0, "c")
    assert [e.text for e in world.fake.channel_log(pid, "chat")] == ["a", "b"]


# --- rate limit -----------------------------------------------------------------------------


def test_burst_then_rate_limit_exceeded(make_world) -> None:
    world = make_world(rate_burst=3, rate_per_second=2.0)
    pid = world.submit()
    for i in range(3):
        world.sub.channel_append(pid, "chat", i, 0, "ok")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(pid, "chat", 3, 0, "too fast")
    assert len(world.fake.channel_log(pid, "chat")) == 3


def test_rate_limit_refills_on_the_fake_clock_up_to_the_burst(make_world) -> None:
    world = make_world(rate_burst=3, rate_per_second=2.0)
    pid = world.submit()
    for i in range(3):
        world.sub.channel_append(pid, "chat", i, 0, "ok")
    world.fake.clock.advance(0.5)  # one token at 2/s
    world.sub.channel_append(pid, "chat", 10, 0, "refilled")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(pid, "chat", 11, 0, "too fast")
    world.fake.clock.advance(100)  # capped at the burst, not 200 tokens
    for i in range(3):
        world.sub.channel_append(pid, "chat", 20 + i, 0, "ok")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(pid, "chat", 30, 0, "too fast")


def test_no_refill_without_the_clock_moving(make_world) -> None:
    world = make_world(rate_burst=1, rate_per_second=1000.0)
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "ok")
    for i in range(3):
        with server_error(RateLimitExceeded, 500, RATE_LIMITED):
            world.sub.channel_append(pid, "chat", 2 + i, 0, "no time passed")


def test_rate_limit_is_shared_by_all_channels_and_both_parties_of_a_process(make_world) -> None:
    world = make_world(rate_burst=4, rate_per_second=1.0)
    pid = world.run(["a", "b"])
    world.sub.channel_append(pid, "a", 1, 0, "1")
    world.ex.channel_append(pid, "a", 1, 0, "2")
    world.sub.channel_append(pid, "b", 1, 0, "3")
    world.ex.channel_append(pid, "b", 1, 0, "4")
    for client in (world.sub, world.ex):
        for name in ("a", "b"):
            with server_error(RateLimitExceeded, 500, RATE_LIMITED):
                client.channel_append(pid, name, 5, 0, "5")


def test_rate_limit_is_per_process(make_world) -> None:
    world = make_world(rate_burst=2, rate_per_second=1.0)
    first = world.submit()
    second = world.submit()
    world.sub.channel_append(first, "chat", 1, 0, "1")
    world.sub.channel_append(first, "chat", 2, 0, "2")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(first, "chat", 3, 0, "3")
    world.sub.channel_append(second, "chat", 1, 0, "1")
    world.sub.channel_append(second, "chat", 2, 0, "2")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(second, "chat", 3, 0, "3")


def test_reads_are_not_rate_limited_and_take_no_token(make_world) -> None:
    world = make_world(rate_burst=2, rate_per_second=1.0)
    pid = world.run()
    for _ in range(10):
        assert world.sub.channel_read(pid, "chat") == []
        assert world.ex.channel_read(pid, "chat") == []
    world.sub.channel_append(pid, "chat", 1, 0, "1")
    world.ex.channel_append(pid, "chat", 1, 0, "2")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(pid, "chat", 2, 0, "3")
    for _ in range(10):
        assert len(world.ex.channel_read(pid, "chat")) == 2


def test_a_token_is_consumed_even_when_the_log_is_full(make_world) -> None:
    """Rate limit is checked before the entry count: a refused "full" append still costs a token."""
    world = make_world(max_entries=2, rate_burst=4, rate_per_second=1.0)
    pid = world.submit(["chat", "other"])
    world.sub.channel_append(pid, "chat", 1, 0, "1")
    world.sub.channel_append(pid, "chat", 2, 0, "2")
    with server_error(ChannelFull, 500, CHANNEL_FULL):
        world.sub.channel_append(pid, "chat", 3, 0, "3")
    with server_error(ChannelFull, 500, CHANNEL_FULL):
        world.sub.channel_append(pid, "chat", 4, 0, "4")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(pid, "other", 1, 0, "5")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(pid, "chat", 5, 0, "6")


def test_rate_limiter_is_dropped_at_cleanup(make_world) -> None:
    """Cancel deletes the channels and the limiter; the lazily re-created channel has a full bucket."""
    world = make_world(rate_burst=2, rate_per_second=1.0)
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "1")
    world.sub.channel_append(pid, "chat", 2, 0, "2")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(pid, "chat", 3, 0, "3")
    world.sub.cancel_process(pid)
    world.sub.channel_append(pid, "chat", 4, 0, "4")
    world.sub.channel_append(pid, "chat", 5, 0, "5")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(pid, "chat", 6, 0, "6")
    assert [e.text for e in world.sub.channel_read(pid, "chat")] == ["4", "5"]


def test_rate_limit_false_never_limits(make_world) -> None:
    world = make_world(rate_limit=False, rate_burst=1, rate_per_second=0.001)
    pid = world.submit()
    for i in range(50):
        world.sub.channel_append(pid, "chat", i, 0, "x")
    assert len(world.fake.channel_log(pid, "chat")) == 50


def test_rate_limit_can_be_switched_off_and_on_at_run_time(make_world) -> None:
    world = make_world(rate_burst=1, rate_per_second=0.001)
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "x")
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(pid, "chat", 2, 0, "x")
    world.fake.rate_limit = False
    for i in range(10):
        world.sub.channel_append(pid, "chat", 10 + i, 0, "x")
    world.fake.rate_limit = True
    with server_error(RateLimitExceeded, 500, RATE_LIMITED):
        world.sub.channel_append(pid, "chat", 30, 0, "x")


def test_real_default_rate_limit_burst_500_refill_100_per_second() -> None:
    with FakeColonies(clock=FakeClock(start=1_700_000_000)) as fake:
        world = build_world(fake)
        pid = world.submit()
        for i in range(500):
            world.sub.channel_append(pid, "chat", i, 0, b"")
        with server_error(RateLimitExceeded, 500, RATE_LIMITED):
            world.sub.channel_append(pid, "chat", 500, 0, b"")
        fake.clock.advance(0.025)  # two and a half tokens at 100/s
        world.sub.channel_append(pid, "chat", 501, 0, b"")
        world.sub.channel_append(pid, "chat", 502, 0, b"")
        with server_error(RateLimitExceeded, 500, RATE_LIMITED):
            world.sub.channel_append(pid, "chat", 503, 0, b"")
        assert len(fake.channel_log(pid, "chat")) == 502
        assert fake.errors == []


def test_advancing_exactly_one_refill_interval_gives_exactly_one_token(make_world) -> None:
    """100 tokens/s: each 0.01 s of fake time is worth one append, no more, no less."""
    world = make_world(rate_burst=1, rate_per_second=100.0)
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 0, 0, b"")
    for i in range(1, 6):
        world.fake.clock.advance(0.01)
        world.sub.channel_append(pid, "chat", i, 0, b"")
        with server_error(RateLimitExceeded, 500, RATE_LIMITED):
            world.sub.channel_append(pid, "chat", 100 + i, 0, b"")
