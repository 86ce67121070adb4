"""The channel tutorial end to end through Channel handles (PROTOCOL.md 8.8; issue 3 acceptance).

A user submits a process with a channel and asks a question with ``request``;
an executor, on its own thread, takes the process, reads the question, replies
with ``inreplyto``, streams chunks and ends the stream with ``end()``. The user
reads everything incrementally by log position, acknowledges the end, and the
executor closes the process, which deletes the channel.
"""

from __future__ import annotations

from colonies_sync import ChannelNotFound, FunctionSpec, ProcessState
from tests.channels.helpers import CHANNEL_NOT_FOUND, JOIN_TIMEOUT, Background, server_error

CHUNKS = ["The answer ", "is ", "forty-", "two."]


def test_bidirectional_exchange_question_reply_stream_end(world) -> None:
    fake = world.fake

    def executor() -> dict:
        process = world.ex.assign("dev", 10)  # long-poll until the user submits
        pid = process.processid
        chat = world.ex.channel(pid, "chat")
        fake.wait_until(lambda: len(fake.channel_log(pid, "chat")) >= 1, timeout=JOIN_TIMEOUT)
        [question] = chat.read()
        reply = chat.append(f"You asked: {question.text}", in_reply_to=question.sequence)
        chunks = [chat.append(text) for text in CHUNKS]
        end = chat.end()
        ack = chat.wait_reply(end, timeout=JOIN_TIMEOUT)  # the user has read it all
        world.ex.close_process(pid, ["answered"])
        return {"pid": pid, "reply": reply, "chunks": chunks, "end": end, "ack": ack}

    thread = Background(executor)
    thread.start()
    try:
        fake.wait_for_assigns(1, timeout=JOIN_TIMEOUT)
        spec = FunctionSpec.create("chat", "dev", "test", channels=["chat"], maxexectime=60, maxwaittime=60)
        pid = world.sub.submit_function_spec(spec).processid
        chat = world.sub.channel(pid, "chat")

        answer = chat.request("What is six times seven?", timeout=JOIN_TIMEOUT)

        # Read on by position until the end marker.
        seen = []
        while not seen or seen[-1].type != "end":
            count = len(seen)
            fake.wait_until(lambda count=count: len(fake.channel_log(pid, "chat")) > count, timeout=JOIN_TIMEOUT)
            seen += chat.read(after=len(seen))
        chat.append("thanks", in_reply_to=seen[-1].sequence)
    finally:
        done = thread.finish()

    assert done["pid"] == pid
    question = seen[0]
    assert (question.senderid, question.text, question.type, question.inreplyto) == (
        world.sub_id,
        "What is six times seven?",
        "data",
        0,
    )
    assert (answer.senderid, answer.sequence, answer.inreplyto, answer.text) == (
        world.ex_id,
        done["reply"],
        question.sequence,
        "You asked: What is six times seven?",
    )
    assert [(e.senderid, e.sequence, e.type, e.text) for e in seen[1:]] == [
        (world.ex_id, done["reply"], "data", "You asked: What is six times seven?"),
        *[(world.ex_id, seq, "data", text) for seq, text in zip(done["chunks"], CHUNKS, strict=True)],
        (world.ex_id, done["end"], "end", ""),
    ]
    assert "".join(e.text for e in seen[2:-1]) == "The answer is forty-two."
    assert (done["ack"].text, done["ack"].senderid, done["ack"].inreplyto) == ("thanks", world.sub_id, done["end"])

    # Closing deleted the channel (8.7).
    p = world.sub.get_process(pid)
    assert (p.state, p.out) == (ProcessState.SUCCESS, ["answered"])
    with server_error(ChannelNotFound, 404, CHANNEL_NOT_FOUND):
        chat.read()
