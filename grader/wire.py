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
"""

import json
import socket
import struct
import time

import torch
from safetensors.torch import load as load_tensors

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 1 << 20
MAX_DEPTH = 48
MAX_NODES = 200_000
_FRAME = struct.Struct(">QQ")
_UCRED = struct.Struct("iII")
_DEVICE_TYPES = ("cpu", "cuda")


class WireError(Exception):
    """A message that breaks the format: too big, truncated, or not what it claims."""


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
    """Rebuild a value from `encode`'s output; `place_tensor(t, meta)` moves tensors to their device."""
    def walk(node, depth=0):
        if depth > MAX_DEPTH:
            raise WireError(f"message nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, list):
            return [walk(v, depth + 1) for v in node]
        if not isinstance(node, dict):
            return node
        if "__tensor__" in node:
            tensor = tensors.get(node["__tensor__"])
            if tensor is None:
                raise WireError(f"message refers to a missing tensor {node['__tensor__']!r}")
            return place_tensor(tensor, node) if place_tensor else tensor
        if "__handle__" in node:
            handle = Handle(int(node["__handle__"]), str(node.get("type", "")))
            return resolve_handle(handle) if resolve_handle else handle
        if "__tuple__" in node:
            return tuple(walk(v, depth + 1) for v in node["__tuple__"])
        if "__dict__" in node:
            return {_hashable(walk(k, depth + 1)): walk(v, depth + 1) for k, v in node["__dict__"]}
        if "__dtype__" in node:
            dtype = getattr(torch, str(node["__dtype__"]), None)
            if not isinstance(dtype, torch.dtype):
                raise WireError(f"unknown dtype {node['__dtype__']!r}")
            return dtype
        raise WireError(f"unknown object in message: keys {sorted(node)[:5]}")
    return walk(data)


def _hashable(key):
    if isinstance(key, (list, dict)):
        raise WireError("a dict key must be a number, string or tuple")
    return key


def checked_device(meta):
    """The device a tensor claims, refused unless it is a CPU or CUDA device."""
    device = torch.device(str(meta.get("device", "cpu")))
    if device.type not in _DEVICE_TYPES:
        raise WireError(f"tensor on unsupported device {device}")
    return device


def through_bytes(tensors):
    """The tensors as the other side of a real boundary would see them: fresh copies."""
    return load_tensors(save_tensors(tensors)) if tensors else {}


_SAFETENSORS_DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64",
}


def save_tensors(tensors):
    """Tensors in the safetensors format (8-byte little-endian header length, JSON header,
    raw bytes), written here rather than with safetensors.torch.save: that one copies the
    bytes through ctypes, which the sandbox's audit hook refuses (grader.untrusted.audit).
    safetensors (its Rust parser) still reads every message on both sides."""
    header, chunks, offset = {}, [], 0
    for name, tensor in tensors.items():
        if tensor.dtype not in _SAFETENSORS_DTYPES:
            raise TypeError(f"a {tensor.dtype} tensor cannot cross the sandbox boundary")
        data = tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": _SAFETENSORS_DTYPES[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)  # safetensors aligns the data to 8 bytes
    return struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks)


def pack(header, tensors):
    header_bytes = json.dumps(header, allow_nan=True).encode()
    blob = save_tensors(tensors) if tensors else b""
    return _FRAME.pack(len(header_bytes), len(blob)) + header_bytes + blob


def send(sock, header, tensors=None):
    sock.sendall(pack(header, tensors or {}))


def receive(sock, limit=MAX_MESSAGE_BYTES, deadline=None, peer=None, header_limit=MAX_HEADER_BYTES):
    """Read one message: (header, tensors). Raises EOFError when the peer is gone, TimeoutError
    when `deadline` (time.monotonic()) passes before the whole message is in."""
    reader = _Reader(sock, deadline, peer)
    header_len, blob_len = _FRAME.unpack(reader.exactly(_FRAME.size))
    if header_len > header_limit:
        raise WireError(f"message header of {header_len} bytes is over the {header_limit} byte limit")
    if header_len + blob_len > limit:
        raise WireError(f"message of {header_len + blob_len} bytes is over the {limit} byte limit")
    try:
        header = json.loads(reader.exactly(header_len))
    except RecursionError:
        raise WireError("message header nested too deeply") from None
    if not isinstance(header, dict):
        raise WireError("message header is not a JSON object")
    _count_nodes(header)
    tensors = load_tensors(reader.exactly(blob_len)) if blob_len else {}
    return header, tensors


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
