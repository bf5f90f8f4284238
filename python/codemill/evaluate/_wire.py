"""The data-only wire format between the judge and the sample: exact built-in values, nothing else.

The judge never unpickles, unmarshals or evaluates anything the sample sends: a frame is a
4-byte length and a tagged encoding of None, bool, int, float, str, bytes, list, tuple,
dict, set and frozenset, checked with `type(x) is ...` so that subclasses (an int whose
`__eq__` always says True) are refused, and decoded into fresh objects. The decoder treats
its input as hostile: bounded size, bounded depth, unhashable keys and trailing bytes are
errors, never crashes.

Standalone on purpose (no codemill imports): the harness loads it into bare interpreters.
"""

import marshal
import os
import select
import struct
import time

MAX_FRAME = 64 << 20  # a larger frame is a protocol error, not an allocation
# The longest single select/poll: a wait is a loop of these up to its deadline, since a whole
# budget overflows them (poll takes a 32-bit ms count, select a time_t) and any finite
# --timeout is accepted.
MAX_WAIT_S = 3600.0
MAX_DEPTH = 200  # nesting deeper than this is refused both ways

_NONE, _TRUE, _FALSE = b"N", b"T", b"F"
_INT, _FLOAT, _STR, _BYTES = b"i", b"f", b"s", b"b"
_LIST, _TUPLE, _DICT, _SET, _FROZENSET = b"l", b"t", b"d", b"S", b"Z"
_LEN = struct.Struct("<I")
_DOUBLE = struct.Struct("<d")
_CONTAINERS = {list: _LIST, tuple: _TUPLE, set: _SET, frozenset: _FROZENSET}


class WireError(Exception):
    """A value that cannot cross, or bytes that are not a valid frame."""


def encode(value):
    """Bytes for `value`; WireError naming the first type that is not exactly a built-in."""
    out = []
    _encode(value, out, 0)
    return b"".join(out)


def _encode(value, out, depth):
    if depth > MAX_DEPTH:
        raise WireError("nested too deep")
    kind = type(value)
    if value is None:
        out.append(_NONE)
    elif value is True:
        out.append(_TRUE)
    elif value is False:
        out.append(_FALSE)
    elif kind is int:
        size = (value.bit_length() + 8) // 8  # room for the sign bit
        out += (_INT, _LEN.pack(size), value.to_bytes(size, "little", signed=True))
    elif kind is float:
        out += (_FLOAT, _DOUBLE.pack(value))
    elif kind is str:
        data = value.encode("utf-8", "surrogatepass")
        out += (_STR, _LEN.pack(len(data)), data)
    elif kind is bytes:
        out += (_BYTES, _LEN.pack(len(value)), value)
    elif kind in _CONTAINERS:
        out += (_CONTAINERS[kind], _LEN.pack(len(value)))
        for item in value:
            _encode(item, out, depth + 1)
    elif kind is dict:
        out += (_DICT, _LEN.pack(len(value)))
        for key, item in value.items():
            _encode(key, out, depth + 1)
            _encode(item, out, depth + 1)
    else:
        raise WireError(f"{_type_name(value)} is not a plain built-in value")


def decode(data):
    """A fresh object from `data`; WireError on anything malformed."""
    try:
        value, end = _decode(data, 0, 0)
    except (struct.error, IndexError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"malformed frame: {type(exc).__name__}") from None
    if end != len(data):
        raise WireError("trailing bytes after the value")
    return value


def _decode(data, pos, depth):
    if depth > MAX_DEPTH:
        raise WireError("nested too deep")
    tag = data[pos : pos + 1]
    pos += 1
    if tag == _NONE:
        return None, pos
    if tag == _TRUE:
        return True, pos
    if tag == _FALSE:
        return False, pos
    if tag == _FLOAT:
        return _DOUBLE.unpack_from(data, pos)[0], pos + 8
    if tag not in (_INT, _STR, _BYTES, _LIST, _TUPLE, _DICT, _SET, _FROZENSET):
        raise WireError(f"unknown tag {tag!r}")
    (size,) = _LEN.unpack_from(data, pos)
    pos += 4
    if tag in (_INT, _STR, _BYTES):
        if pos + size > len(data):
            raise WireError("truncated value")
        raw = data[pos : pos + size]
        pos += size
        if tag == _INT:
            return int.from_bytes(raw, "little", signed=True), pos
        if tag == _STR:
            return raw.decode("utf-8", "surrogatepass"), pos
        return bytes(raw), pos
    if size > len(data) - pos:  # every element takes at least one byte
        raise WireError("truncated container")
    if tag == _DICT:
        result = {}
        for _ in range(size):
            key, pos = _decode(data, pos, depth + 1)
            result[key], pos = _decode(data, pos, depth + 1)  # TypeError if unhashable
        return result, pos
    items = []
    for _ in range(size):
        item, pos = _decode(data, pos, depth + 1)
        items.append(item)
    if tag == _LIST:
        return items, pos
    if tag == _TUPLE:
        return tuple(items), pos
    return (set(items) if tag == _SET else frozenset(items)), pos


def _type_name(value):
    # type(value).__name__ may be any string the sample chose; callers sanitise it.
    try:
        return str(type(value).__name__)
    except Exception:
        return "object"


def send(fd, value):
    """Write one frame; raises OSError when the peer is gone."""
    _send_bytes(fd, encode(value))


def receive(fd, deadline=None):
    """Read one frame; EOFError when the peer closed, WireError when it is malformed,
    TimeoutError when ``deadline`` (time.monotonic) passes first: a peer that sends part of a
    frame and stops held the judge past its budget, until a server killed it."""
    return decode(_receive_bytes(fd, deadline))


# The judge's requests travel the other way, from trusted code to the sample, so they may
# use marshal (C speed, a few microseconds less per call): only the sample ever decodes
# them, and marshal.loads is never called on bytes the sample wrote.


def send_request(fd, value):
    """Judge side: write one request frame (built-in values only, as marshal allows)."""
    try:
        payload = marshal.dumps(value)
    except ValueError as exc:  # a function, a subclass instance, ...
        raise WireError(f"argument cannot be sent: {exc}") from None
    _send_bytes(fd, payload)


def receive_request(fd):
    """Sample side: read one request frame of the judge."""
    return marshal.loads(_receive_bytes(fd))


def _send_bytes(fd, payload):
    data = memoryview(_LEN.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def _receive_bytes(fd, deadline=None):
    (size,) = _LEN.unpack(_read_exact(fd, 4, deadline))
    if size > MAX_FRAME:
        raise WireError(f"frame of {size} bytes is over the limit")
    return _read_exact(fd, size, deadline)


def _read_exact(fd, size, deadline=None):
    chunks, left = [], size
    while left:
        while deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                raise TimeoutError("no whole frame before the deadline")
            if select.select([fd], [], [], min(wait, MAX_WAIT_S))[0]:
                break
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
