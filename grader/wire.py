"""The one format that crosses the sandbox boundary, in both directions.

A message is a JSON header plus one safetensors blob holding every tensor the header
refers to. No pickle, no torch.load: the trusted side only ever parses JSON and
safetensors, so a hostile child can send wrong data but never code.

Framing on a stream socket: 8-byte big-endian header length, 8-byte blob length,
header bytes (UTF-8 JSON), blob bytes.

What a hostile peer can send is bounded before it is parsed: the header (JSON) and the
blob (tensors) have their own caps, a whole message has one deadline however slowly it
drips in, JSON nesting and node counts are capped, and with `Peer` every chunk must come
from the one process the trusted side expects (the kernel's SCM_CREDENTIALS).

Every process in the sandbox belongs to the student, so everything decoded here is checked
before the trusted side builds anything from it: the safetensors header (dtypes from a fixed
table, dimensions, element counts per tensor and per message) before a tensor is made,
dtype names from a fixed table (never a lookup in torch's namespace, which imports what a
name asks for), devices from a fixed set, handles as bounded numbers, strings clipped.
Shapes the sandbox reports as plain data are checked with `checked_shape`.
"""

import contextlib
import json
import math
import socket
import struct
import time

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_safetensors

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 1 << 20
MAX_DEPTH = 48
MAX_NODES = 200_000
# What the trusted side accepts from the sandbox. A tensor (or a shape the sandbox reports)
# of at most MAX_ELEMENTS elements costs the grader at most 32 MiB in float64, whatever the
# suite builds from it (a reference, a gradient, an expanded copy); the largest honest one
# in the course has some 10**5.
MAX_ELEMENTS = 1 << 22
MAX_MESSAGE_ELEMENTS = 1 << 23
MAX_DIMS = 8
MAX_TENSORS = 4096
MAX_STRING_CHARS = 10_000
MAX_HANDLE = 1 << 31
_FRAME = struct.Struct(">QQ")
_UCRED = struct.Struct("iII")
DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.complex64, torch.complex128,
    torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)}
DEVICES = frozenset(["cpu", "cuda"] + [f"cuda:{i}" for i in range(16)])


class WireError(Exception):
    """A message that breaks the format: too big, truncated, or not what it claims.

    The one error `receive` and `decode` raise for what the other side sent, whatever
    parser found the fault (JSON's, safetensors', torch's): see `refusing`."""


@contextlib.contextmanager
def refusing(what):
    """Whatever the parsers raise on the other side's data is that data's fault: one WireError,
    one sentence. (safetensors raises its own SafetensorError, a plain Exception, for offsets
    past the end or overlapping data; json, ValueError or RecursionError; torch, RuntimeError.)"""
    try:
        yield
    except WireError:
        raise
    except Exception as exc:
        raise WireError(f"{what} could not be read ({type(exc).__name__}: "
                        f"{_clipped(str(exc), 160)})") from None


class MessageTooLarge(WireError):
    """A message this side was about to send is over what the other side accepts."""


class Peer:
    """The process a socket's data must come from: learned from the first chunk, or given."""

    def __init__(self, pid=None):
        self.pid = pid

    def vouch(self, ancdata):
        pids = [_UCRED.unpack(data[:_UCRED.size])[0] for level, kind, data in ancdata
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS]
        if len(pids) != 1:
            raise WireError("a reply came without the sender's credentials")
        if self.pid is None:
            self.pid = pids[0]
        elif pids[0] != self.pid:
            raise WireError(f"a reply came from process {pids[0]}, not from {self.pid}")


class Handle:
    """A reference to an object living in the child (a module, say), by number."""

    def __init__(self, ref, type_name=""):
        self.ref = ref
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name or 'object'} #{self.ref} in the sandbox>"


def encode(value, tensors):
    """Turn a value into JSON-able data, moving tensors into `tensors` (name -> tensor)."""
    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        plain = value.detach()
        if type(plain) is not torch.Tensor:
            plain = plain.as_subclass(torch.Tensor)
        # a copy of its own: safetensors refuses tensors that share memory (a view and its base)
        tensors[name] = plain.to("cpu").contiguous().clone()
        return {"__tensor__": name, "device": str(value.device),
                "requires_grad": bool(value.requires_grad)}
    if isinstance(value, Handle):
        return {"__handle__": value.ref, "type": value.type_name}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Size):
        return {"__tuple__": [int(v) for v in value]}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [encode(v, tensors) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[encode(k, tensors), encode(v, tensors)] for k, v in value.items()]}
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).removeprefix("torch.")}
    raise TypeError(f"{type(value).__name__} cannot cross the sandbox boundary")


def decode(data, tensors, place_tensor=None, resolve_handle=None):
    """Rebuild a value from `encode`'s output; `place_tensor(t, meta)` moves tensors to their device.

    Anything but what `encode` writes is refused (WireError): a dtype outside DTYPES, a
    device outside DEVICES, a handle that is not a number in [0, MAX_HANDLE). (Strings are
    left whole here: the sandbox decodes the program's cells with this too; the trusted
    side clips what it is sent in grader.engine.student.) A tensor referred to twice counts twice
    towards MAX_MESSAGE_ELEMENTS: each reference may become a copy on its device."""
    with refusing("the message's value"):
        return _decode(data, tensors, place_tensor, resolve_handle)


def _decode(data, tensors, place_tensor, resolve_handle):
    placed = [0]

    def walk(node, depth=0):
        if depth > MAX_DEPTH:
            raise WireError(f"message nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        if not isinstance(node, dict):
            return node
        if "__tensor__" in node:
            tensor = tensors.get(node["__tensor__"]) if isinstance(node["__tensor__"], str) else None
            if tensor is None:
                raise WireError(f"message refers to a missing tensor {_clipped(str(node['__tensor__']), 40)!r}")
            checked_device(node)
            placed[0] += tensor.numel()
            if placed[0] > MAX_MESSAGE_ELEMENTS:
                raise WireError(f"the message refers to more than {MAX_MESSAGE_ELEMENTS} tensor elements "
                                "in all; that many are not accepted")
            return place_tensor(tensor, node) if place_tensor else tensor
        if "__handle__" in node:
            handle = Handle(checked_handle(node["__handle__"]), _clipped(node.get("type"), 100))
            return resolve_handle(handle) if resolve_handle else handle
        if "__tuple__" in node:
            return tuple(walk(v, depth + 1) for v in _list(node["__tuple__"], "a tuple"))
        if "__dict__" in node:
            return {_hashable(walk(k, depth + 1)): walk(v, depth + 1) for k, v in _pairs(node["__dict__"])}
        if "__dtype__" in node:
            return checked_dtype(node["__dtype__"])
        raise WireError(f"unknown object in message: keys {[_clipped(k, 40) for k in sorted(node)[:5]]}")
    return walk(data)


def _clipped(value, limit=MAX_STRING_CHARS):
    text = value if isinstance(value, str) else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _list(value, what):
    if not isinstance(value, list):
        raise WireError(f"{what} in the message is not a list")
    return value


def _pairs(value):
    items = _list(value, "a dict")
    if not all(isinstance(item, list) and len(item) == 2 for item in items):
        raise WireError("a dict in the message is not a list of [key, value] pairs")
    return items


def _hashable(key):
    if isinstance(key, (list, dict)):
        raise WireError("a dict key must be a number, string or tuple")
    return key


def checked_dtype(name):
    """The dtype a message names, from the fixed table DTYPES (nothing is looked up in torch)."""
    dtype = DTYPES.get(name) if isinstance(name, str) else None
    if dtype is None:
        raise WireError(f"the sandbox named the dtype {_clipped(str(name), 40)!r}; "
                        f"only {', '.join(DTYPES)} are accepted")
    return dtype


def checked_handle(ref):
    """An object number the sandbox sent: an int in [0, MAX_HANDLE)."""
    if type(ref) is not int or not 0 <= ref < MAX_HANDLE:
        raise WireError(f"the sandbox sent an object handle {_clipped(repr(ref), 40)}; "
                        f"handles are whole numbers below {MAX_HANDLE}")
    return ref


def checked_device(meta):
    """The device a tensor claims, refused unless it is one of DEVICES."""
    name = meta.get("device", "cpu")
    if not isinstance(name, str) or name not in DEVICES:
        raise WireError(f"the sandbox sent a tensor on the device {_clipped(str(name), 40)!r}; "
                        "only cpu and cuda are accepted")
    return torch.device(name)


def checked_shape(shape, what="a tensor"):
    """A shape the sandbox reports as data (not a tensor it sent): a tuple of whole numbers,
    refused before anything is built from it when it is over MAX_DIMS or MAX_ELEMENTS."""
    if not isinstance(shape, (list, tuple)) or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError(f"the sandbox reported {what} with the shape {_clipped(repr(shape), 80)}, "
                        "which is not a list of sizes")
    shape = tuple(shape)
    if len(shape) > MAX_DIMS:
        raise WireError(f"the sandbox sent {what} with {len(shape)} dimensions; at most {MAX_DIMS} are accepted")
    numel = 1
    for size in shape:
        if size > MAX_ELEMENTS:
            raise WireError(f"the sandbox sent {what} of shape {_clipped(str(shape), 80)}: a dimension "
                            f"of {size:.3g}; at most {MAX_ELEMENTS} are accepted")
        numel *= size
    if numel > MAX_ELEMENTS:
        raise WireError(f"the sandbox sent {what} of shape {_clipped(str(shape), 80)}: {numel:.3g} "
                        f"elements; at most {MAX_ELEMENTS} are accepted")
    return shape


def through_bytes(tensors):
    """The tensors as the other side of a real boundary would see them: fresh copies."""
    return load_checked(save_tensors(tensors)) if tensors else {}


# The dtypes that cross, by safetensors' names for them (a header is checked against these
# before safetensors builds anything).
_SAFETENSORS_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64",
}
_SAFETENSORS_CODES = {code: dtype for dtype, code in _SAFETENSORS_DTYPES.items()}


def save_tensors(tensors):
    """Tensors in the safetensors format: safetensors' own writer, and its Rust parser reads
    every message on both sides."""
    for tensor in tensors.values():
        if tensor.dtype not in _SAFETENSORS_DTYPES:
            raise TypeError(f"a {tensor.dtype} tensor cannot cross the sandbox boundary")
    return save_safetensors({name: t.detach().cpu().contiguous() for name, t in tensors.items()})


def pack(header, tensors):
    """One framed message; MessageTooLarge when `receive` on the other side would refuse it."""
    try:
        _count_nodes(header)  # `receive` refuses more values than this
    except WireError as exc:
        raise MessageTooLarge(str(exc)) from None
    header_bytes = json.dumps(header, allow_nan=True).encode()
    blob = save_tensors(tensors) if tensors else b""
    if len(header_bytes) > MAX_HEADER_BYTES or len(header_bytes) + len(blob) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"a message of {len(header_bytes) + len(blob):.3g} bytes "
                              f"({len(header_bytes)} of them JSON) is over the limits of "
                              f"{MAX_MESSAGE_BYTES} bytes ({MAX_HEADER_BYTES} of JSON)")
    return _FRAME.pack(len(header_bytes), len(blob)) + header_bytes + blob


def send(sock, header, tensors=None):
    sock.sendall(pack(header, tensors or {}))


def receive(sock, limit=MAX_MESSAGE_BYTES, deadline=None, peer=None, header_limit=MAX_HEADER_BYTES):
    """Read one message: (header, tensors). Raises EOFError when the peer is gone, TimeoutError
    when `deadline` (time.monotonic()) passes before the whole message is in, OSError for the
    socket's own faults, and WireError for anything wrong with what was sent."""
    reader = _Reader(sock, deadline, peer)
    header_len, blob_len = _FRAME.unpack(reader.exactly(_FRAME.size))
    if header_len > header_limit:
        raise WireError(f"message header of {header_len} bytes is over the {header_limit} byte limit")
    if header_len + blob_len > limit:
        raise WireError(f"message of {header_len + blob_len} bytes is over the {limit} byte limit")
    header_bytes = reader.exactly(header_len)
    with refusing("the message's header"):
        try:
            header = json.loads(header_bytes)
        except RecursionError:
            raise WireError("message header nested too deeply") from None
        if not isinstance(header, dict):
            raise WireError("message header is not a JSON object")
        _count_nodes(header)
    blob = reader.exactly(blob_len) if blob_len else b""
    with refusing("the message's tensors"):
        tensors = load_checked(blob) if blob_len else {}
    return header, tensors


def load_checked(blob):
    """The tensors of a safetensors blob, made only after its header passed the checks:
    at most MAX_TENSORS tensors, dtypes from the fixed table, each at most MAX_DIMS
    dimensions and MAX_ELEMENTS elements, MAX_MESSAGE_ELEMENTS in all."""
    if len(blob) < 8:
        raise WireError("the tensors of a message are truncated")
    (length,) = struct.unpack("<Q", blob[:8])
    if length > min(len(blob) - 8, MAX_HEADER_BYTES):
        raise WireError("the tensors' header of a message is over its size")
    try:
        described = json.loads(blob[8:8 + length])
    except (ValueError, RecursionError):
        raise WireError("the tensors' header of a message is not JSON") from None
    if not isinstance(described, dict):
        raise WireError("the tensors' header of a message is not a JSON object")
    described.pop("__metadata__", None)
    if len(described) > MAX_TENSORS:
        raise WireError(f"the sandbox sent {len(described)} tensors in one message; "
                        f"at most {MAX_TENSORS} are accepted")
    total = 0
    for name, info in described.items():
        if not isinstance(info, dict) or info.get("dtype") not in _SAFETENSORS_CODES:
            raise WireError(f"the sandbox sent a tensor of an unsupported dtype "
                            f"{_clipped(str(info.get('dtype') if isinstance(info, dict) else info), 20)!r}")
        total += math.prod(checked_shape(info.get("shape"), "a tensor"))
        if total > MAX_MESSAGE_ELEMENTS:
            raise WireError(f"the sandbox sent more than {MAX_MESSAGE_ELEMENTS} tensor elements in one "
                            "message; that many are not accepted")
    return load_tensors(blob)


def _count_nodes(value):
    count, stack = 0, [value]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise WireError(f"message has more than {MAX_NODES} values")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


class _Reader:
    def __init__(self, sock, deadline, peer):
        self.sock, self.deadline, self.peer = sock, deadline, peer

    def exactly(self, n):
        chunks, remaining = [], n
        while remaining:
            chunk = self._chunk(min(remaining, 1 << 20))
            if not chunk:
                raise EOFError("the other side closed the connection")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _chunk(self, n):
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the message did not arrive in time")
            self.sock.settimeout(left)
        if self.peer is None:
            return self.sock.recv(n)
        data, ancdata, _, _ = self.sock.recvmsg(n, socket.CMSG_SPACE(_UCRED.size))
        if data:
            self.peer.vouch(ancdata)
        return data
