"""The judge's wire format: exact built-in values round-trip; anything else is refused."""

import math
import struct

import pytest
from codemill.evaluate import _wire

VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**200,
    -(2**65),
    1.5,
    -0.0,
    math.inf,
    "",
    "héllo \udcff",
    b"\x00\xff",
    [1, [2, [3]]],
    (1, "a", None),
    {"a": [1], 2: (3,), (4, 5): frozenset({6})},
    {1, 2.5, "x"},
    frozenset(),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_round_trip_keeps_exact_types(value):
    back = _wire.decode(_wire.encode(value))
    assert back == value and type(back) is type(value)


def test_nan_round_trips_as_nan():
    assert math.isnan(_wire.decode(_wire.encode(math.nan)))


@pytest.mark.parametrize(
    "value",
    [
        type("I", (int,), {})(1),
        type("S", (str,), {})("a"),
        type("L", (list,), {})(),
        [type("D", (dict,), {})()],
        object(),
        range(3),
        bytearray(b"x"),
        1j,
    ],
    ids=repr,
)
def test_subclasses_and_other_types_are_refused(value):
    with pytest.raises(_wire.WireError):
        _wire.encode(value)


def test_nesting_is_bounded():
    value: list = []
    for _ in range(_wire.MAX_DEPTH + 5):
        value = [value]
    with pytest.raises(_wire.WireError):
        _wire.encode(value)
    with pytest.raises(_wire.WireError):
        _wire.decode(b"l\x01\x00\x00\x00" * (_wire.MAX_DEPTH + 5) + b"N")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"?",
        b"i\x05\x00\x00\x00\x01",  # truncated int
        b"s\xff\xff\xff\x7fabc",  # length past the end
        b"l\xff\xff\xff\x7f",  # a count no frame could hold
        b"d\x01\x00\x00\x00l\x00\x00\x00\x00N",  # unhashable key
        b"S\x01\x00\x00\x00l\x00\x00\x00\x00",  # unhashable set member
        b"NN",  # trailing bytes
        b"s\x02\x00\x00\x00\xc3(",  # invalid UTF-8
        b"f" + struct.pack("<d", 1.0)[:4],
    ],
)
def test_malformed_frames_are_errors_not_crashes(data):
    with pytest.raises(_wire.WireError):
        _wire.decode(data)


def test_frames_over_a_pipe_and_the_judges_requests():
    import os

    read, write = os.pipe()
    try:
        _wire.send(write, ["ok", (1, 2.5, "x")])
        assert _wire.receive(read) == ["ok", (1, 2.5, "x")]
        request = ["call", "f", [[1, 2], {"k": (3,)}, b"\x00", {4}], {"key": None}]
        _wire.send_request(write, request)
        assert _wire.receive_request(read) == request
        with pytest.raises(_wire.WireError):
            _wire.send_request(write, ["call", "f", [type("I", (int,), {})(1)], {}])
        os.write(write, (_wire.MAX_FRAME + 1).to_bytes(4, "little"))
        with pytest.raises(_wire.WireError):
            _wire.receive(read)
        os.close(write)
        write = -1
        with pytest.raises(EOFError):
            _wire.receive(read)
    finally:
        os.close(read)
        if write >= 0:
            os.close(write)
