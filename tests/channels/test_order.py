"""Log order and read index semantics (PROTOCOL.md 8.3, 8.4, 8.5; checklist 36, 37, 38)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.channels.helpers import START, raw_append, raw_read


def triples(entries):
    return [(e.senderid, e.sequence, e.text) for e in entries]


@pytest.fixture
def example(world):
    """The example of 8.5: submitter appends seq 1 and 2, then the executor appends seq 1."""
    pid = world.run()
    world.sub.channel_append(pid, "chat", 1, 0, "s1")
    world.sub.channel_append(pid, "chat", 2, 0, "s2")
    world.ex.channel_append(pid, "chat", 1, 0, "e1")
    return pid


# --- afterseq is an index (8.5) -------------------------------------------------------------


def test_afterseq_1_returns_submitters_seq_2_then_executors_seq_1(world, example) -> None:
    got = world.sub.channel_read(example, "chat", after_seq=1)
    assert triples(got) == [(world.sub_id, 2, "s2"), (world.ex_id, 1, "e1")]
    assert triples(world.ex.channel_read(example, "chat", after_seq=1)) == triples(got)


@pytest.mark.parametrize("afterseq", [0, -1, -1000])
def test_afterseq_zero_or_negative_returns_everything(world, example, afterseq) -> None:
    assert [e.text for e in world.sub.channel_read(example, "chat", after_seq=afterseq)] == ["s1", "s2", "e1"]


@pytest.mark.parametrize("afterseq", [3, 4, 1000])
def test_afterseq_at_or_past_the_end_returns_an_empty_list(world, example, afterseq) -> None:
    assert world.sub.channel_read(example, "chat", after_seq=afterseq) == []
    assert raw_read(world.sub, example, "chat", afterseq=afterseq) == []


def test_afterseq_2_returns_only_the_executors_entry(world, example) -> None:
    assert triples(world.sub.channel_read(example, "chat", after_seq=2)) == [(world.ex_id, 1, "e1")]


@pytest.mark.parametrize(
    ("afterseq", "limit", "texts"),
    [
        (0, 1, ["s1"]),
        (0, 2, ["s1", "s2"]),
        (1, 1, ["s2"]),
        (2, 5, ["e1"]),
        (0, 0, ["s1", "s2", "e1"]),
        (0, -1, ["s1", "s2", "e1"]),
        (1, 0, ["s2", "e1"]),
        (1, -5, ["s2", "e1"]),
    ],
)
def test_limit_clips_and_zero_or_negative_means_all(world, example, afterseq, limit, texts) -> None:
    assert [e.text for e in world.sub.channel_read(example, "chat", after_seq=afterseq, limit=limit)] == texts


def test_client_read_defaults_to_100_entries(world) -> None:
    pid = world.submit()
    for i in range(1, 131):
        world.sub.channel_append(pid, "chat", i, 0, str(i))
    assert [e.sequence for e in world.sub.channel_read(pid, "chat")] == list(range(1, 101))
    assert len(world.sub.channel_read(pid, "chat", limit=0)) == 130
    assert [e.sequence for e in world.sub.channel_read(pid, "chat", after_seq=100)] == list(range(101, 131))


def test_read_of_an_empty_channel_is_an_empty_list_never_null(world) -> None:
    pid = world.submit()
    assert raw_read(world.sub, pid, "chat") == []
    assert raw_read(world.sub, pid, "chat", afterseq=5, limit=3) == []


# --- log order (8.4) ------------------------------------------------------------------------


def test_single_sender_out_of_order_is_sorted_by_sequence_equal_after_existing(world) -> None:
    """1, 3, 2, 2, 0, -7 read back as -7, 0, 1, 2, 2, 3; the later 2 after the earlier one."""
    pid = world.submit()
    for seq, text in [(1, "a"), (3, "b"), (2, "c"), (2, "d"), (0, "e"), (-7, "f")]:
        world.sub.channel_append(pid, "chat", seq, 0, text)
    entries = world.sub.channel_read(pid, "chat")
    assert [(e.sequence, e.text) for e in entries] == [(-7, "f"), (0, "e"), (1, "a"), (2, "c"), (2, "d"), (3, "b")]


def test_lower_sequence_never_moves_past_another_senders_entry(world) -> None:
    """s1, s3, e1, then s2 gives s1, s3, e1, s2 (8.4, corrected rule)."""
    pid = world.run()
    world.sub.channel_append(pid, "chat", 1, 0, "s1")
    world.sub.channel_append(pid, "chat", 3, 0, "s3")
    world.ex.channel_append(pid, "chat", 1, 0, "e1")
    world.sub.channel_append(pid, "chat", 2, 0, "s2")
    assert [e.text for e in world.sub.channel_read(pid, "chat")] == ["s1", "s3", "e1", "s2"]


def test_lower_sequence_moves_back_only_past_directly_preceding_entries_of_its_sender(world) -> None:
    """s1, e1, s2, e5, e6, then e3: e3 passes e6 and e5, stops at s2."""
    pid = world.run()
    world.sub.channel_append(pid, "chat", 1, 0, "s1")
    world.ex.channel_append(pid, "chat", 1, 0, "e1")
    world.sub.channel_append(pid, "chat", 2, 0, "s2")
    world.ex.channel_append(pid, "chat", 5, 0, "e5")
    world.ex.channel_append(pid, "chat", 6, 0, "e6")
    world.ex.channel_append(pid, "chat", 3, 0, "e3")
    assert [e.text for e in world.sub.channel_read(pid, "chat")] == ["s1", "e1", "s2", "e3", "e5", "e6"]


def test_increasing_sequences_from_both_senders_keep_arrival_order(world) -> None:
    pid = world.run()
    world.ex.channel_append(pid, "chat", 100, 0, "e100")
    world.sub.channel_append(pid, "chat", 1, 0, "s1")
    world.sub.channel_append(pid, "chat", 2, 0, "s2")
    world.ex.channel_append(pid, "chat", 101, 0, "e101")
    world.sub.channel_append(pid, "chat", 3, 0, "s3")
    assert [e.text for e in world.sub.channel_read(pid, "chat")] == ["e100", "s1", "s2", "e101", "s3"]


def test_a_late_lower_sequence_shifts_the_positions_readers_count(world) -> None:
    pid = world.submit()
    for seq in (1, 2, 3):
        world.sub.channel_append(pid, "chat", seq, 0, str(seq))
    assert world.sub.channel_read(pid, "chat", after_seq=3) == []
    world.sub.channel_append(pid, "chat", 0, 0, "0")
    assert [e.text for e in world.sub.channel_read(pid, "chat", after_seq=3)] == ["3"]


def test_sequences_are_not_validated(world) -> None:
    pid = world.submit()
    for seq in (2**62, 2**62, 0, -(2**62)):
        world.sub.channel_append(pid, "chat", seq, 0, "x")
    assert [e.sequence for e in world.sub.channel_read(pid, "chat")] == [-(2**62), 0, 2**62, 2**62]


# --- fields set by the server and by the appender ------------------------------------------


def test_inreplyto_zero_is_omitted_and_reads_back_as_zero(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "no reply")
    world.sub.channel_append(pid, "chat", 2, 1, "reply to 1")
    world.sub.channel_append(pid, "chat", 3, -4, "negative")
    raw = raw_read(world.sub, pid, "chat")
    assert "inreplyto" not in raw[0]
    assert [e.get("inreplyto") for e in raw] == [None, 1, -4]
    assert [e.inreplyto for e in world.sub.channel_read(pid, "chat")] == [0, 1, -4]


def test_entry_keys_on_the_wire(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "x")
    world.sub.channel_append(pid, "chat", 2, 1, "y")
    raw = raw_read(world.sub, pid, "chat")
    assert sorted(raw[0]) == ["payload", "senderid", "sequence", "timestamp", "type"]
    assert sorted(raw[1]) == ["inreplyto", "payload", "senderid", "sequence", "timestamp", "type"]


def test_senderid_is_the_callers_id(world) -> None:
    pid = world.run()
    world.sub.channel_append(pid, "chat", 1, 0, "s")
    world.ex.channel_append(pid, "chat", 1, 0, "e")
    assert [e.senderid for e in world.sub.channel_read(pid, "chat")] == [world.sub_id, world.ex_id]


def test_timestamp_is_the_fake_clock_time_in_nanoseconds(world) -> None:
    pid = world.submit()
    world.fake.clock.advance(0.123456789)
    world.sub.channel_append(pid, "chat", 1, 0, "first")
    world.fake.clock.advance(5)
    world.sub.channel_append(pid, "chat", 2, 0, "second")
    raw = raw_read(world.sub, pid, "chat")
    assert [e["timestamp"] for e in raw] == ["2023-11-14T22:13:20.123456789Z", "2023-11-14T22:13:25.123456789Z"]
    entries = world.sub.channel_read(pid, "chat")
    base = dt.datetime.fromtimestamp(START, tz=dt.timezone.utc)
    assert [e.timestamp for e in entries] == [
        base + dt.timedelta(microseconds=123456),
        base + dt.timedelta(seconds=5, microseconds=123456),
    ]


def test_whole_second_timestamp_has_no_fraction(world) -> None:
    pid = world.submit()
    world.sub.channel_append(pid, "chat", 1, 0, "x")
    assert raw_read(world.sub, pid, "chat")[0]["timestamp"] == "2023-11-14T22:13:20Z"


def test_server_ignores_sender_supplied_senderid_and_timestamp(world) -> None:
    pid = world.submit()
    raw_append(world.sub, pid, "chat", sequence=1, payload="", senderid="f" * 64, timestamp="2000-01-01T00:00:00Z")
    [entry] = raw_read(world.sub, pid, "chat")
    assert (entry["senderid"], entry["timestamp"]) == (world.sub_id, "2023-11-14T22:13:20Z")


def test_type_has_no_server_meaning_data_after_end_and_error_is_accepted(world) -> None:
    pid = world.run()
    world.ex.channel_append(pid, "chat", 1, 0, "", "end")
    world.ex.channel_append(pid, "chat", 2, 0, "more", "data")
    world.ex.channel_append(pid, "chat", 3, 0, "oops", "error")
    world.sub.channel_append(pid, "chat", 1, 0, "still open")
    assert [(e.type, e.text) for e in world.sub.channel_read(pid, "chat")] == [
        ("end", ""),
        ("data", "more"),
        ("error", "oops"),
        ("data", "still open"),
    ]
