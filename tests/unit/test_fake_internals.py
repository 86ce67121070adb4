"""The fake's private helpers: Go-style JSON, the resource parsers and the clocks.

``_gojson`` imitates Go's ``encoding/json`` (PROTOCOL.md sections 2.1, 2.2 and
6.3), ``_parsers`` the real server's CPU and memory parsers (section 6.3), and
``_clock`` the time that ``advance()`` moves.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any, Callable

import pytest

from colonies_fake import FakeClock, RealClock
from colonies_fake._gojson import (
    ANY,
    BOOL,
    BYTES,
    INT,
    STRING,
    TIME,
    Field,
    GoFloat,
    GoJSONError,
    Map,
    Ptr,
    Slice,
    Struct,
    decode_message,
    dumps,
    go_b64decode,
    go_value,
    parse,
)
from colonies_fake._parsers import ResourceError, cpu_text, mem_text, parse_cpu, parse_mem

# A struct shaped like the real server's request messages.
INNER = Struct("core.GPU", [Field("name", STRING), Field("count", INT)])
MSG = Struct(
    "rpc.TestMsg",
    [
        Field("msgtype", STRING),
        Field("colonyname", STRING),
        Field("count", INT),
        Field("latest", BOOL),
        Field("payload", BYTES),
        Field("args", Slice(ANY)),
        Field("names", Slice(STRING)),
        Field("env", Map(STRING)),
        Field("gpu", INNER),
        Field("ptr", Ptr(INNER)),
        Field("when", TIME),
    ],
)
ZERO_MSG = {
    "msgtype": "",
    "colonyname": "",
    "count": 0,
    "latest": False,
    "payload": None,
    "args": None,
    "names": None,
    "env": None,
    "gpu": {"name": "", "count": 0},
    "ptr": None,
    "when": None,
}


def decode(text: str) -> dict[str, Any]:
    result: dict[str, Any] = MSG.decode(parse(text))
    return result


def any_json(text: str) -> str:
    """Parse into interface{} and write back, as the fake echoes args/kwargs/in/out."""
    return dumps(ANY.decode(parse(text)))


# --- _gojson: decoding -------------------------------------------------------------------


def test_struct_keys_match_case_insensitively() -> None:
    """'MsgType' and 'COLONYNAME' fill msgtype and colonyname, as Go's decoder does."""
    out = decode('{"MsgType":"getcolonymsg","COLONYNAME":"dev","Count":3}')
    assert (out["msgtype"], out["colonyname"], out["count"]) == ("getcolonymsg", "dev", 3)


def test_struct_ignores_unknown_keys() -> None:
    """Unknown keys are skipped without error; every field is present at its zero value."""
    assert decode('{"nosuchfield":[1,{"x":2}],"other":null}') == ZERO_MSG


def test_struct_null_values_leave_zero_values() -> None:
    """null leaves scalars at zero and makes slices, maps, pointers and []byte nil."""
    text = (
        '{"msgtype":null,"colonyname":null,"count":null,"latest":null,"payload":null,'
        '"args":null,"names":null,"env":null,"gpu":null,"ptr":null,"when":null}'
    )
    assert decode(text) == ZERO_MSG


def test_struct_decodes_every_field_type() -> None:
    """A full message decodes into Python values of the Go types."""
    out = decode(
        '{"msgtype":"m","colonyname":"c","count":-7,"latest":true,"payload":"aGk=",'
        '"args":[1,"a",null],"names":["x"],"env":{"A":"1"},"gpu":{"name":"a100","count":2},'
        '"ptr":{"name":"p"},"when":"1970-01-01T00:00:01.5Z"}'
    )
    assert out == {
        "msgtype": "m",
        "colonyname": "c",
        "count": -7,
        "latest": True,
        "payload": b"hi",
        "args": [1, "a", None],
        "names": ["x"],
        "env": {"A": "1"},
        "gpu": {"name": "a100", "count": 2},
        "ptr": {"name": "p", "count": 0},
        "when": 1_500_000_000,
    }


def test_struct_null_after_a_value_leaves_it_as_go_does() -> None:
    """A repeated key with null keeps a string, number, bool, time or struct (Go's null is a no-op
    there) and makes a slice, map, pointer, []byte or interface{} nil (found by tests/stress/test_fuzz.py)."""
    out = decode(
        '{"msgtype":"m","msgtype":null,"count":3,"Count":null,"latest":true,"latest":null,'
        '"when":"1970-01-01T00:00:01Z","when":null,"gpu":{"name":"a"},"gpu":null,'
        '"names":["x"],"names":null,"env":{"A":"1"},"env":null,"ptr":{},"ptr":null,'
        '"payload":"aGk=","payload":null,"args":[1],"args":null}'
    )
    kept = (out["msgtype"], out["count"], out["latest"], out["when"], out["gpu"])
    assert kept == ("m", 3, True, 1_000_000_000, {"name": "a", "count": 0})
    assert (out["names"], out["env"], out["ptr"], out["payload"], out["args"]) == (None,) * 5


def test_struct_keys_fold_case_as_go_does() -> None:
    """Go folds case rune by rune: the Kelvin sign and the long s stand for k and s, but "ß" is not
    "ss" (Python's casefold() would match "colonynameß"-style keys Go ignores)."""
    gpu = Struct("core.GPU", [Field("name", STRING), Field("kind", STRING), Field("processid", STRING)])
    assert gpu.decode(parse('{"\u212aIND":"k","proce\u017fsid":"p"}')) == {"name": "", "kind": "k", "processid": "p"}
    assert gpu.decode(parse('{"proce\u00dfid":"p","PROCESSID\u0307":"q"}'))["processid"] == ""


def test_empty_slice_and_map_differ_from_null() -> None:
    """[] and {} decode to empty containers, not to nil."""
    out = decode('{"names":[],"env":{},"args":[]}')
    assert (out["names"], out["env"], out["args"]) == ([], {}, [])


@pytest.mark.parametrize(
    "text",
    [
        '{"msgtype":5}',
        '{"msgtype":["a"]}',
        '{"count":"5"}',
        '{"count":true}',
        '{"latest":1}',
        '{"latest":"true"}',
        '{"names":"a"}',
        '{"names":[1]}',
        '{"env":[]}',
        '{"env":{"A":1}}',
        '{"gpu":[]}',
        '{"args":{}}',
        '{"when":12}',
        '{"payload":{}}',
    ],
)
def test_wrong_json_type_raises(text: str) -> None:
    """A value of the wrong JSON type for its Go field is a GoJSONError (a ValueError)."""
    with pytest.raises(GoJSONError) as info:
        decode(text)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("json: cannot unmarshal ")


def test_type_error_text_names_the_field() -> None:
    """The error reads like Go's: the JSON kind, the struct field and the Go type."""
    with pytest.raises(GoJSONError) as info:
        decode('{"msgtype":5}')
    assert str(info.value) == "json: cannot unmarshal number into Go field rpc.TestMsg.msgtype value of type string"


@pytest.mark.parametrize("text", ["[]", "42", '"x"', "true"])
def test_non_object_into_struct_raises(text: str) -> None:
    """A JSON value that is not an object cannot fill a struct."""
    with pytest.raises(GoJSONError):
        decode(text)


@pytest.mark.parametrize("number", ["1.5", "1.0", "1e2", "-0.5", "2E3"])
def test_float_into_int_field_raises(number: str) -> None:
    """A number with a fraction or exponent does not fit an int field, even 1.0."""
    with pytest.raises(GoJSONError):
        decode(f'{{"count":{number}}}')


@pytest.mark.parametrize("number", [2**63 - 1, -(2**63)])
def test_int_field_accepts_the_int64_range(number: int) -> None:
    """The int64 extremes decode exactly."""
    assert decode(f'{{"count":{number}}}')["count"] == number


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 10**30])
def test_int_field_outside_int64_raises(number: int) -> None:
    """Integers outside int64 are refused."""
    with pytest.raises(GoJSONError):
        decode(f'{{"count":{number}}}')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"aGVsbG8="', b"hello"),
        ('""', b""),
        ("[104,101,108,108,111]", b"hello"),
        ("[0,255]", b"\x00\xff"),
        ("[]", b""),
        ("null", None),
    ],
)
def test_bytes_from_base64_or_int_array(value: str, expected: Any) -> None:
    """[]byte takes a standard base64 string or an array of numbers 0..255; null is nil."""
    assert decode(f'{{"payload":{value}}}')["payload"] == expected


@pytest.mark.parametrize(
    "value",
    ["[256]", "[-1]", "[1.5]", '["a"]', "[true]", "[null]", '"!!!"', '"aGVsbG8"', '"aGVsbG8-"', "12", "{}"],
)
def test_bytes_rejects_bad_values(value: str) -> None:
    """Out-of-range or non-integer elements, bad or unpadded base64, and other kinds are errors."""
    with pytest.raises(GoJSONError):
        decode(f'{{"payload":{value}}}')


def test_interface_number_takes_float64_semantics() -> None:
    """2**53 + 1 in an interface{} becomes 2**53, as the real server echoed it."""
    assert ANY.decode(parse("9007199254740993")) == 9007199254740992
    assert any_json("[9007199254740993]") == "[9007199254740992]"
    assert any_json("[9007199254740992, 1, -3]") == "[9007199254740992,1,-3]"


def test_interface_whole_float_is_written_without_fraction() -> None:
    """1.0 and 5.0 in an interface{} are written 1 and 5, as Go does."""
    assert any_json("[1.0, 5.0, -2.0, 1e2]") == "[1,5,-2,100]"


def test_interface_keeps_nested_structure() -> None:
    """Objects and arrays inside interface{} become dicts and lists."""
    assert ANY.decode(parse('{"k":[1,{"x":null}],"s":"t","b":false}')) == {
        "k": [1, {"x": None}],
        "s": "t",
        "b": False,
    }


def test_interface_big_integer_is_written_with_go_shortest_digits() -> None:
    """Beyond 2**53 Go writes the float64's shortest digits padded with zeros (strconv 'f', -1).

    12345678901234567890 is the float64 1.2345678901234567e19, which Go's
    encoding/json writes as 12345678901234567000 (not its exact value
    12345678901234567168).
    """
    assert any_json("[12345678901234567890]") == "[12345678901234567000]"
    assert any_json("[1152921504606846977]") == "[1152921504606847000]"


@pytest.mark.parametrize(
    ("text", "go"),
    [
        ("1e-7", "1e-7"),
        ("1.5e-7", "1.5e-7"),
        ("0.00005", "0.00005"),
        ("0.000001", "0.000001"),
        ("1e21", "1e+21"),
        ("1.5e300", "1.5e+300"),
        ("1e20", "100000000000000000000"),
        ("5.0", "5"),
        ("2.5", "2.5"),
        ("0.1", "0.1"),
        ("-0.00005", "-0.00005"),
    ],
)
def test_interface_floats_are_written_like_go(text: str, go: str) -> None:
    """Floats read into interface{} are written back in Go's format."""
    assert any_json(f"[{text}]") == f"[{go}]"


@pytest.mark.parametrize(
    ("value", "go"),
    [(1e-7, "1e-7"), (0.00005, "0.00005"), (1e21, "1e+21"), (5.0, "5"), (2.5, "2.5")],
)
def test_dumps_formats_go_values_of_floats_like_go(value: float, go: str) -> None:
    """A float made into a Go value (``go_value``, as ANY decoding does) is written as Go writes a float64."""
    assert dumps(go_value(value)) == go
    assert dumps({"v": go_value(value)}) == f'{{"v":{go}}}'


def test_go_float_wrapper_is_written_like_go() -> None:
    """A GoFloat is written with Go's text, inside containers too."""
    assert dumps([GoFloat(1e-7), GoFloat(0.00005)]) == "[1e-7,0.00005]"


def test_dumps_escapes_html_characters_like_go() -> None:
    """<, > and & become \\u003c, \\u003e, \\u0026; U+2028/2029 are escaped; other non-ASCII is kept."""
    assert dumps({"label": "a<b>&c"}) == '{"label":"a\\u003cb\\u003e\\u0026c"}'
    assert dumps(["\u2028\u2029"]) == '["\\u2028\\u2029"]'
    assert dumps("héllo ✓") == '"héllo ✓"'


def test_dumps_is_compact_and_keeps_key_order() -> None:
    """No spaces, keys in insertion order, bytes as base64, None as null."""
    assert dumps({"b": 1, "a": [True, None], "p": b"hi"}) == '{"b":1,"a":[true,null],"p":"aGk="}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unexpected end of JSON input"),
        ("   ", "unexpected end of JSON input"),
        ('{"a":', "unexpected end of JSON input"),
        ("{nope}", "invalid character 'n' looking for beginning of object key string"),
        ("NaN", "invalid character 'N' looking for beginning of value"),
        ('{"a":Infinity}', "invalid character 'I' looking for beginning of value"),
        ("{} x", "invalid character 'x' after top-level value"),
    ],
)
def test_parse_errors_read_like_go(text: str, message: str) -> None:
    """Malformed JSON raises GoJSONError with Go's texts; NaN and Infinity are not JSON."""
    with pytest.raises(GoJSONError) as info:
        parse(text)
    assert str(info.value) == message


def test_parse_accepts_bytes() -> None:
    """parse takes UTF-8 bytes as well as text."""
    assert MSG.decode(parse(b'{"msgtype":"x"}'))["msgtype"] == "x"


def test_parse_reads_a_lone_surrogate_escape_as_the_replacement_character() -> None:
    """A \\u escape of a lone UTF-16 surrogate reads as U+FFFD, as in Go, so that every reply that
    echoes it can still be written as UTF-8; a valid pair stays one character (found by
    tests/stress/test_fuzz.py: the fake answered 500 "internal error")."""
    value = parse(b'{"a\\ud800":["\\udc00x","\\ud83d\\ude00","\\ud800\\ud800","\\\\ud800"]}')
    assert value == [("a\ufffd", ["\ufffdx", "\U0001f600", "\ufffd\ufffd", "\\ud800"])]
    assert dumps(MSG.decode(parse(b'{"colonyname":"\\udfff"}'))["colonyname"]).encode("utf-8") == '"\ufffd"'.encode()


@pytest.mark.parametrize("depth", [100, 700, 990, 1_500, 20_000])
def test_interface_nesting_decodes_whole_or_fails_with_go_max_depth_error(depth: int) -> None:
    """Go decodes 10,000 levels. The fake's recursive parsing and decoding give up earlier (where
    depends on the Python version and the stack); then the message is refused with Go's error for
    deeper input, never with a crash (found by tests/stress/test_fuzz.py: 500 "internal error")."""
    nested = "[" * depth + "]" * depth
    try:
        msg = decode_message(MSG, parse('{"args":' + nested + "}"))
    except GoJSONError as exc:
        assert str(exc) == "exceeded max depth"
        assert depth > 100
    else:
        assert msg is not None and dumps(msg["args"]) == nested
        assert depth <= 10_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aGVsbG8gd29ybGQ=", b"hello world"),
        ("", b""),
        ("aGVs\nbG8=", b"hello"),
        ("aGVs\r\nbG8=", b"hello"),
        ("aGVsbG8gd29ybGQ", b"hello wor"),  # unpadded: the last partial quantum is dropped
        ("aGVs!G8=", b"hel"),  # bad character in the second quantum
        ("aGVsbG8", b"hel"),
        ("aGk=aGk=", b"hi"),  # data after padding
        ("!!!!aGk=", b""),
        ("aGVs-G8=", b"hel"),  # URL-safe alphabet is not accepted
    ],
)
def test_go_b64decode_keeps_whole_quanta_before_an_error(text: str, expected: bytes) -> None:
    """Like Go's DecodeString with the error ignored: the bytes of whole quanta before the error."""
    assert go_b64decode(text) == expected


# --- _parsers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "millicores"),
    [("500m", 500), ("4000m", 4000), ("0m", 0), ("2", 0), ("4000", 0), ("", 0), ("-5m", -5), ("+7m", 7)],
)
def test_parse_cpu(text: str, millicores: int) -> None:
    """Millicores need the 'm' suffix; without it the value counts as 0."""
    assert parse_cpu(text) == millicores


@pytest.mark.parametrize("text", ["xm", "lotsm", "m", "1.5m", "5 m", "99999999999999999999m"])
def test_parse_cpu_bad_number_raises_server_text(text: str) -> None:
    """A text ending in 'm' whose prefix is no int64 raises 'Error converting CPU to int'."""
    with pytest.raises(ResourceError) as info:
        parse_cpu(text)
    assert str(info.value) == "Error converting CPU to int"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1Ki", 1024),
        ("2KiB", 2048),
        ("3Mi", 3 * 1024**2),
        ("3MiB", 3 * 1024**2),
        ("1Gi", 1073741824),
        ("8Gi", 8 * 1024**3),
        ("2GiB", 2 * 1024**3),
        ("1TiB", 1024**4),
        ("10K", 10_000),
        ("10M", 10_000_000),
        ("512M", 512_000_000),
        ("1G", 1_000_000_000),
        ("10G", 10_000_000_000),
        ("5Gb", 5_000_000_000),
        ("10Gb", 10_000_000_000),
        ("", 0),
        ("0Mi", 0),
    ],
)
def test_parse_mem_units(text: str, size: int) -> None:
    """Ki/Mi/Gi/TiB are powers of 1024; K/M/G/Gb are powers of 1000."""
    assert parse_mem(text) == size


@pytest.mark.parametrize(
    "text",
    ["10MB", "10Mb", "10mb", "10GB", "10KB", "10TB", "10Tb", "1024", "abc", "1.5Gi", "Mi", "10 Mi", "10XB"],
)
def test_parse_mem_ambiguous_or_invalid_raises(text: str) -> None:
    """Spellings two units match (10MB, 10mb, 10TB ...), a bare number and garbage all fail.

    The real server fails these at least intermittently (PROTOCOL.md 6.3); the
    fake always does, with the server's text.
    """
    with pytest.raises(ResourceError) as info:
        parse_mem(text)
    assert str(info.value).startswith("error converting memory to int: ")


def test_parse_mem_bare_number_text() -> None:
    """A bare number has no unit, so the server parses an empty number: its exact text."""
    with pytest.raises(ResourceError) as info:
        parse_mem("1024")
    assert str(info.value) == 'error converting memory to int: strconv.ParseInt: parsing "": invalid syntax'


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (512_000_000, "488Mi"),
        (1073741824, "1024Mi"),
        (1_000_000_000, "953Mi"),
        (5_000_000_000, "4768Mi"),
        (2048, "0Mi"),
        (1048575, "0Mi"),
        (1048576, "1Mi"),
        (0, "0Mi"),
        (1024**4, "1048576Mi"),
    ],
)
def test_mem_text_truncates_to_whole_mib(size: int, text: str) -> None:
    """Memory comes back as whole MiB, truncated: 512M -> 488Mi, 1Gi -> 1024Mi."""
    assert mem_text(size) == text


def test_cpu_text() -> None:
    """CPU comes back as '<n>m'."""
    assert cpu_text(500) == "500m"
    assert cpu_text(0) == "0m"


# --- _clock: FakeClock -------------------------------------------------------------------


def test_fake_clock_starts_at_a_whole_second() -> None:
    """FakeClock() starts at the current wall time rounded down to a whole second."""
    before = int(time.time())
    clock = FakeClock()
    after = int(time.time())
    assert clock.time_ns() % 1_000_000_000 == 0
    assert before <= clock.time() <= after
    assert clock.time() == clock.time_ns() / 1e9


def test_fake_clock_with_start_and_no_motion() -> None:
    """FakeClock(start=...) starts there and does not move by itself."""
    clock = FakeClock(start=1_700_000_000)
    assert clock.time() == 1_700_000_000.0
    assert clock.time_ns() == 1_700_000_000_000_000_000
    assert clock.time() == 1_700_000_000.0


def test_advance_fires_due_timers_in_time_order_at_their_due_time() -> None:
    """Timers scheduled out of order fire in time order, each seeing the clock at its due time."""
    start = 1_000_000.0
    clock = FakeClock(start=start)
    fired: list[tuple[str, float]] = []

    def record(name: str) -> Callable[[], None]:
        return lambda: fired.append((name, clock.time()))

    clock.call_at(start + 5, record("c"))
    clock.call_at(start + 1, record("a"))
    clock.call_at(start + 3.5, record("b"))
    clock.call_at(start + 20, record("late"))
    assert clock.pending() == 4
    clock.advance(10)
    assert fired == [("a", start + 1), ("b", start + 3.5), ("c", start + 5)]
    assert clock.time() == start + 10
    assert clock.pending() == 1
    clock.advance(10)
    assert fired[-1] == ("late", start + 20)
    assert clock.pending() == 0


def test_timers_due_at_the_same_time_fire_in_scheduling_order() -> None:
    """Ties are broken by the order of call_at."""
    clock = FakeClock(start=100)
    fired: list[int] = []
    for i in range(5):
        clock.call_at(101, functools.partial(fired.append, i))
    clock.advance(1)
    assert fired == [0, 1, 2, 3, 4]


def test_timer_due_exactly_at_target_fires_and_later_does_not() -> None:
    """advance(s) fires timers due at now + s, not those after it."""
    clock = FakeClock(start=100)
    fired: list[str] = []
    clock.call_at(102, lambda: fired.append("at"))
    clock.call_at(102.000001, lambda: fired.append("after"))
    clock.advance(2)
    assert fired == ["at"]


def test_advance_zero_fires_already_due_timers() -> None:
    """A timer scheduled at or before now fires on the next advance, even advance(0)."""
    clock = FakeClock(start=100)
    fired: list[float] = []
    clock.call_at(99, lambda: fired.append(clock.time()))
    clock.advance(0)
    assert fired == [100.0]


def test_advance_skips_cancelled_timers() -> None:
    """A cancelled timer never runs and is not pending."""
    clock = FakeClock(start=100)
    fired: list[str] = []
    t1 = clock.call_at(101, lambda: fired.append("cancelled"))
    clock.call_at(102, lambda: fired.append("kept"))
    t1.cancel()
    assert t1.cancelled
    assert clock.pending() == 1
    clock.advance(5)
    assert fired == ["kept"]


def test_timer_cancelled_by_an_earlier_timer_does_not_run() -> None:
    """A timer can cancel a later one during the same advance."""
    clock = FakeClock(start=100)
    fired: list[str] = []
    later = clock.call_at(103, lambda: fired.append("later"))

    def first() -> None:
        fired.append("first")
        later.cancel()

    clock.call_at(101, first)
    clock.advance(5)
    assert fired == ["first"]


def test_timers_scheduled_by_timers_run_if_due_within_the_same_advance() -> None:
    """A timer scheduling another inside the advanced span sees it fire; one beyond waits."""
    clock = FakeClock(start=100)
    fired: list[tuple[str, float]] = []

    def first() -> None:
        fired.append(("first", clock.time()))
        clock.call_at(clock.time() + 2, lambda: fired.append(("child", clock.time())))
        clock.call_at(clock.time() + 10, lambda: fired.append(("grandchild-late", clock.time())))
        clock.call_at(clock.time(), lambda: fired.append(("now", clock.time())))

    clock.call_at(101, first)
    clock.call_at(104, lambda: fired.append(("other", clock.time())))
    clock.advance(5)
    assert fired == [("first", 101.0), ("now", 101.0), ("child", 103.0), ("other", 104.0)]
    assert clock.time() == 105.0
    assert clock.pending() == 1
    clock.advance(6)
    assert fired[-1] == ("grandchild-late", 111.0)


def test_advance_calls_listeners_after_timers_with_the_final_time() -> None:
    """Listeners run once per advance, after the timers, seeing the new time."""
    clock = FakeClock(start=100)
    events: list[tuple[str, float]] = []
    clock.call_at(101, lambda: events.append(("timer", clock.time())))

    def listener() -> None:
        events.append(("listener", clock.time()))

    clock.add_listener(listener)
    clock.advance(3)
    assert events == [("timer", 101.0), ("listener", 103.0)]
    clock.advance(1)
    assert events[-1] == ("listener", 104.0)
    clock.remove_listener(listener)
    clock.remove_listener(listener)  # a second removal is harmless
    clock.advance(1)
    assert len(events) == 3


def test_advance_backwards_raises() -> None:
    """A negative advance is a ValueError and leaves the time unchanged."""
    clock = FakeClock(start=100)
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.time() == 100.0


def test_fractional_advances_accumulate_without_drift() -> None:
    """Ten advances of 0.1 s move the clock by exactly one second (integer nanoseconds)."""
    clock = FakeClock(start=1_700_000_000)
    for _ in range(10):
        clock.advance(0.1)
    assert clock.time_ns() == 1_700_000_001_000_000_000


def test_fake_deadline_expires_only_when_the_clock_reaches_it() -> None:
    """Without the real-time cap a deadline depends on advance() alone."""
    clock = FakeClock(start=100, real_time_cap=False)
    deadline = clock.deadline(5)
    assert not deadline.expired()
    clock.advance(4.999)
    assert not deadline.expired()
    clock.advance(0.001)
    assert deadline.expired()


# --- _clock: RealClock -------------------------------------------------------------------


def test_real_clock_call_at_fires_on_its_scheduler_thread() -> None:
    """call_at runs the callback on the scheduler thread, which exits once no timer remains."""
    clock = RealClock()
    done = threading.Event()
    seen: dict[str, Any] = {}

    def callback() -> None:
        seen["thread"] = threading.current_thread()
        seen["at"] = time.time()
        done.set()

    when = time.time() + 0.05
    clock.call_at(when, callback)
    assert done.wait(5)
    thread = seen["thread"]
    assert thread is not threading.main_thread()
    assert thread.name == "colonies-fake-clock"
    assert thread.daemon
    assert seen["at"] >= when
    clock.join(5)
    assert not thread.is_alive()
    assert clock._thread is None
    assert clock.errors == []


def test_real_clock_runs_timers_in_order_and_skips_cancelled() -> None:
    """Timers fire by due time; a cancelled one never runs."""
    clock = RealClock()
    done = threading.Event()
    fired: list[str] = []

    def second() -> None:
        fired.append("second")
        done.set()

    now = time.time()
    clock.call_at(now + 0.06, second)
    cancelled = clock.call_at(now + 0.02, lambda: fired.append("cancelled"))
    clock.call_at(now + 0.03, lambda: fired.append("first"))
    cancelled.cancel()
    assert done.wait(5)
    clock.join(5)
    assert fired == ["first", "second"]


def test_real_clock_records_callback_errors_and_goes_on() -> None:
    """An exception in a callback lands in .errors; later timers still run."""
    clock = RealClock()
    done = threading.Event()

    def boom() -> None:
        raise RuntimeError("boom")

    now = time.time()
    clock.call_at(now + 0.01, boom)
    clock.call_at(now + 0.03, done.set)
    assert done.wait(5)
    clock.join(5)
    assert [str(e) for e in clock.errors] == ["boom"]


def test_real_clock_scheduler_restarts_after_exiting() -> None:
    """After the thread exits, a new call_at starts a new one."""
    clock = RealClock()
    for _ in range(2):
        done = threading.Event()
        clock.call_at(time.time() + 0.01, done.set)
        assert done.wait(5)
        clock.join(5)
        assert clock._thread is None


def test_real_clock_time_follows_the_wall_clock() -> None:
    """RealClock.time() and time_ns() read the wall clock."""
    clock = RealClock()
    before = time.time()
    assert before <= clock.time() <= time.time()
    assert abs(clock.time_ns() / 1e9 - time.time()) < 1
