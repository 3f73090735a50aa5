"""The trusted side validates everything the sandbox sends, in one place (grader.wire for
the format, grader.engine.student for each reply's shape), before it builds anything from it.

Every process in the sandbox is the student's, so these tests play the sandbox: they write
crafted bytes into a real socket and let the trusted side's own code (Sandbox._request,
wire.receive, wire.decode, Student) read them. The last test does it through
grader.engine.grading.grade with a real sandbox: a module that reports a giant parameter shape
costs the grading process no memory and the student reads what happened.
"""

import json
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import types

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import wire
from grader.engine.grading import grade
from grader.engine.sandbox import Limits, Sandbox
from grader.engine.student import Student, StudentError
from submissions import make_submission

A1 = "a1_cross_correlation"


# -- playing the sandbox ------------------------------------------------------------------

def frame(header, blob=b""):
    """A message as the wire frames it, from raw parts (so anything can be sent)."""
    header_bytes = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack(">QQ", len(header_bytes), len(blob)) + header_bytes + blob


def safetensors_blob(described, data=b""):
    """A safetensors blob with any header at all: shapes need not match the data."""
    header = json.dumps(described).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def reply(value, blob=b""):
    return frame({"payload": {"__dict__": [["ok", True], ["value", value]]}}, blob)


def call_reply(result):
    return reply({"__dict__": [["result", result], ["ops", []]]})


class CraftedSandbox:
    """The Sandbox interface of grader.engine.sandbox, whose process is a socket this test writes
    crafted replies into; the trusted side reads them with Sandbox's own code."""

    def __init__(self, names=("corr2d", "Conv2D")):
        self.real = Sandbox([], Limits())
        self.ours, self.theirs = socket.socketpair()
        self.process = types.SimpleNamespace(sock=self.ours, peer=None, kill=lambda: None)
        self.program = {"ok": True, "value": {"cells": [], "names": {n: "function" for n in names}}}
        self.next_reply = None

    def ensure_started(self):
        pass

    def new_check(self):
        pass

    def request(self, op, payload, timeout=None, fresh=False):
        send_soon(self.theirs, self.next_reply)
        try:
            return self.real._request(self.process, op, payload, timeout or 5)
        finally:
            self._drain_request()

    def _drain_request(self):
        self.theirs.setblocking(False)
        try:
            while self.theirs.recv(1 << 20):
                pass
        except BlockingIOError:
            pass
        finally:
            self.theirs.setblocking(True)

    def close(self):
        self.ours.close()
        self.theirs.close()
        self.real.close()


@pytest.fixture
def crafted():
    sandbox = CraftedSandbox()
    yield sandbox
    sandbox.close()


def send_soon(sock, data):
    """Write in the background: a message larger than the socket's buffer waits for its reader."""
    def send():
        try:
            sock.sendall(data)
        except OSError:
            pass  # the reader refused the message and hung up
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    return sender


def decoded(message):
    """What the trusted side makes of one raw message (wire.receive, then wire.decode)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        send_soon(theirs, message)
        header, tensors = wire.receive(ours, deadline=time.monotonic() + 30)
        return wire.decode(header.get("payload"), tensors)


# -- dtypes: a fixed table --------------------------------------------------------------

DTYPE_PROBE = textwrap.dedent("""
    import json, socket, struct, sys
    import torch
    from grader import wire
    header = json.dumps({"payload": {"__dtype__": sys.argv[1]}}).encode()
    ours, theirs = socket.socketpair()
    theirs.sendall(struct.pack(">QQ", len(header), 0) + header)
    before = set(sys.modules)
    try:
        received, tensors = wire.receive(ours)
        wire.decode(received["payload"], tensors)
        outcome = "accepted"
    except wire.WireError as exc:
        outcome = str(exc)
    added = sorted(set(sys.modules) - before)
    getattr(torch, sys.argv[1], None)  # what a lookup by name in torch's namespace does
    by_lookup = len(set(sys.modules) - before)
    print(json.dumps({"outcome": outcome, "added": added, "by_lookup": by_lookup}))
""")


def test_a_dtype_named_after_a_torch_submodule_imports_nothing():
    """`_inductor` names no dtype: refused, and not one module is imported for it (torch's
    lazy `getattr(torch, "_inductor")` would import torch._dynamo and torch._inductor)."""
    run = subprocess.run([sys.executable, "-c", DTYPE_PROBE, "_inductor"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    probe = json.loads(run.stdout.strip().splitlines()[-1])
    assert probe["added"] == [], probe["added"][:10]
    assert "dtype '_inductor'" in probe["outcome"] and "float32" in probe["outcome"]
    assert probe["by_lookup"] > 50, "the attack this test guards against: a lookup by name imports"


@pytest.mark.parametrize("name", ["float", "Tensor", "__class__", "_C", 7, None, ["float32"]])
def test_only_dtypes_of_the_table_are_accepted(name):
    with pytest.raises(wire.WireError, match="dtype"):
        decoded(frame({"payload": {"__dtype__": name}}))


def test_every_dtype_of_the_table_round_trips():
    for name, dtype in wire.DTYPES.items():
        tensors = {}
        assert wire.decode(wire.encode(dtype, tensors), tensors) is dtype, name


# -- tensors: bounded before they are made ------------------------------------------------

def test_a_tensor_over_the_element_limit_is_refused_before_it_is_made():
    """The header claims 2.7e10 elements and no data follows: the refusal is wire's own,
    from the header, before safetensors (which would refuse the missing data) is asked."""
    blob = safetensors_blob({"t0": {"dtype": "F32", "shape": [30000, 900000], "data_offsets": [0, 0]}})
    with pytest.raises(wire.WireError, match=r"2.7e\+10 elements; at most 4194304 are accepted"):
        decoded(frame({"payload": {"__tensor__": "t0"}}, blob))


def test_a_real_tensor_over_the_element_limit_is_refused():
    """8 Mi booleans (8 MiB on the wire) would cost 64 MiB as the float64 a suite compares them in."""
    big = {"t0": torch.zeros((2048, 4096), dtype=torch.bool)}
    with pytest.raises(wire.WireError, match="elements; at most"):
        decoded(frame({"payload": {"__tensor__": "t0"}}, wire.save_tensors(big)))
    small = {"t0": torch.zeros(1000, dtype=torch.bool)}
    assert decoded(frame({"payload": {"__tensor__": "t0"}}, wire.save_tensors(small))).shape == (1000,)


def test_an_empty_tensor_with_huge_dimensions_is_refused():
    blob = safetensors_blob({"t0": {"dtype": "F32", "shape": [0, 1 << 40], "data_offsets": [0, 0]}})
    with pytest.raises(wire.WireError, match="a dimension"):
        decoded(frame({"payload": {"__tensor__": "t0"}}, blob))


@pytest.mark.parametrize("described, match", [
    ({"t0": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, "unsupported dtype"),
    ({"t0": {"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}}, "9 dimensions"),
    ({"t0": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, "not a list of sizes"),
    ({"t0": {"dtype": "F32", "shape": "big", "data_offsets": [0, 4]}}, "not a list of sizes"),
    ({f"t{i}": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]} for i in range(5000)}, "5000 tensors"),
])
def test_tensor_headers_outside_the_table_are_refused(described, match):
    with pytest.raises(wire.WireError, match=match):
        decoded(frame({"payload": None}, safetensors_blob(described, b"\0" * 8)))


def test_one_tensor_referred_to_many_times_counts_each_time():
    """Each reference may become a copy on its device: the total is bounded by references."""
    blob = wire.save_tensors({"t0": torch.zeros(1 << 20)})
    assert len(decoded(frame({"payload": [{"__tensor__": "t0"}] * 8}, blob))) == 8
    with pytest.raises(wire.WireError, match="tensor elements in all"):
        decoded(frame({"payload": [{"__tensor__": "t0"}] * 9}, blob))


# -- devices, handles, structure ---------------------------------------------------------

@pytest.mark.parametrize("device", ["meta", "cuda:99", "cpu:0", "xla", "CPU", 5, None, ["cpu"]])
def test_devices_outside_the_fixed_set_are_refused(device):
    blob = wire.save_tensors({"t0": torch.zeros(2)})
    with pytest.raises(wire.WireError, match="device"):
        decoded(frame({"payload": {"__tensor__": "t0", "device": device}}, blob))


@pytest.mark.parametrize("ref", ["1", 1.5, -1, 2**31, 10**30, True, None, [1]])
def test_handles_must_be_bounded_whole_numbers(ref):
    with pytest.raises(wire.WireError, match="handle"):
        decoded(frame({"payload": {"__handle__": ref, "type": "Conv2D"}}))


def test_a_handle_keeps_its_number_and_a_clipped_type_name():
    handle = decoded(frame({"payload": {"__handle__": 3, "type": "X" * 5000}}))
    assert handle.ref == 3 and len(handle.type_name) == 100


def test_deep_json_is_refused():
    deep = b'{"payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(wire.WireError):
        decoded(frame(deep))
    nested = b'{"payload": ' + b"[" * 60 + b"]" * 60 + b"}"  # parses, but deeper than decode goes
    with pytest.raises(wire.WireError, match="levels deep"):
        decoded(frame(nested))


def test_wide_json_is_refused():
    with pytest.raises(wire.WireError, match="more than 200000 values"):
        decoded(frame({"payload": [0] * 250_000}))


def test_an_oversized_header_is_refused_before_it_is_read():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(struct.pack(">QQ", 1 << 40, 0))  # claims a terabyte, sends nothing
        with pytest.raises(wire.WireError, match="over the"):
            wire.receive(ours, deadline=time.monotonic() + 30)


@pytest.mark.parametrize("payload, match", [
    ({"__dict__": ["ab"]}, "pairs"),
    ({"__dict__": {"a": 1}}, "not a list"),
    ({"__tuple__": "abc"}, "not a list"),
    ({"__dict__": [[[1], 2]]}, "dict key"),
    ({"__pickle__": "gASV"}, "unknown object"),
])
def test_malformed_structures_are_refused(payload, match):
    with pytest.raises(wire.WireError, match=match):
        decoded(frame({"payload": payload}))


# -- fuzzing the decoder: whatever arrives, a value or one WireError ----------------------

WIRE_KEYS = ["__tensor__", "__tuple__", "__dict__", "__handle__", "__dtype__", "device", "type",
             "ok", "value", "result", "t0", "t1"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2**63) | st.floats() | st.text(max_size=8)
    | st.sampled_from(WIRE_KEYS + ["float32", "cpu", "cuda", "meta"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(WIRE_KEYS) | st.text(max_size=6), inner, max_size=4),
    max_leaves=24)
# safetensors headers of every kind: dtypes in and out of the table, shapes that do and do not
# match the data, offsets past the end, overlapping, reversed, or not numbers at all.
tensor_infos = st.fixed_dictionaries(
    {"dtype": st.sampled_from(["F32", "F64", "U8", "BOOL", "I64", "C64", "F8_E4M3", "X"]),
     "shape": st.lists(st.integers(-1, 6), max_size=3),
     "data_offsets": st.lists(st.integers(-1, 80), min_size=2, max_size=2) | json_values},
    optional={"extra": json_values})
safetensors_headers = st.dictionaries(st.sampled_from(["t0", "t1", "t2", "__metadata__"]) | st.text(max_size=4),
                                      tensor_infos | json_values, max_size=3)


@st.composite
def blobs(draw):
    described = json.dumps(draw(safetensors_headers)).encode()
    described += b" " * draw(st.sampled_from([-len(described) % 8, 0, 3]))
    length = draw(st.sampled_from([len(described), len(described) + 8, 0]) | st.integers(0, 2**64 - 1))
    return struct.pack("<Q", length) + described + draw(st.binary(max_size=80))


@st.composite
def messages(draw):
    """A whole framed message: mostly well framed around a hostile payload and tensors, sometimes
    bytes with any framing at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=120))
    header = draw(st.just({"payload": draw(json_values)}) | json_values.map(lambda v: {"x": v}))
    header_bytes = json.dumps(header).encode()
    if draw(st.booleans()):
        header_bytes = draw(st.binary(max_size=40)) + header_bytes
    blob = draw(st.just(b"") | blobs() | st.binary(max_size=80))
    return struct.pack(">QQ", len(header_bytes), len(blob)) + header_bytes + blob


def received(message):
    """'decoded' or 'refused': what wire.receive and wire.decode make of bytes followed by the
    sender hanging up. Any other exception fails the property."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(message)  # a few hundred bytes: the socket's buffer holds them
        theirs.shutdown(socket.SHUT_WR)
        try:
            header, tensors = wire.receive(ours, deadline=time.monotonic() + 5)
            wire.decode(header.get("payload"), tensors)
        except (wire.WireError, EOFError):
            return "refused"
    return "decoded"


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(messages())
def test_fuzzed_messages_decode_or_are_refused_with_one_error(message):
    assert received(message) in ("decoded", "refused")


@FUZZ
@given(blobs())
def test_fuzzed_safetensors_blobs_decode_or_are_refused(blob):
    assert received(frame({"payload": [{"__tensor__": "t0"}, {"__tensor__": "t1"}]}, blob)) in ("decoded", "refused")


@pytest.mark.parametrize("described, data", [
    ({"t0": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b""),  # past the end
    ({"t0": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "t1": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),  # overlapping
    ({"t0": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4),  # short for its shape
    ({"t0": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}, b"\0" * 8),  # reversed
])
def test_tensor_data_that_does_not_match_its_header_is_refused(described, data):
    """Valid dtypes and shapes, offsets that safetensors itself refuses (SafetensorError, a
    plain Exception): one WireError, one sentence."""
    with pytest.raises(wire.WireError, match="the message's tensors could not be read"):
        decoded(frame({"payload": {"__tensor__": "t0"}}, safetensors_blob(described, data)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.just({"payload": None}).map(lambda _: None) | json_values, st.just(b"") | blobs())
def test_fuzzed_replies_reach_a_suite_only_as_a_value_or_a_student_error(value, blob):
    """The whole receiving side (Sandbox._request, wire, Student's checks of a call's reply):
    whatever a well-framed reply holds, the suite gets a result or a StudentError."""
    sandbox = CraftedSandbox()
    try:
        sandbox.next_reply = reply(value, blob)
        try:
            Student(sandbox, {}).corr2d(torch.zeros(3, 3), torch.zeros(2, 2))
        except StudentError:
            pass
    finally:
        sandbox.close()


# -- each reply's shape, in Student -------------------------------------------------------

def test_a_giant_reported_parameter_shape_is_refused_before_a_suite_sees_it(crafted):
    """What a module says about its parameters is data; a shape over the limit never reaches
    a suite (which would expand a small weight to it: 2.5 GiB for (4096, 16384, 1, 2) in float64)."""
    parameter = {"__dict__": [["name", "weight"], ["shape", {"__tuple__": [4096, 16384, 1, 2]}],
                              ["dtype", {"__dtype__": "float32"}], ["requires_grad", True]]}
    student = Student(crafted, {})
    crafted.next_reply = call_reply({"__handle__": 1, "type": "Conv2D"})
    module = student.Conv2D((1, 2))
    crafted.next_reply = reply({"__dict__": [["parameters", [parameter]], ["plain_tensors", []]]})
    with pytest.raises(StudentError) as error:
        module.parameters()
    assert error.value.kind == "protocol"
    assert ("the parameter `weight` of shape (4096, 16384, 1, 2): 1.34e+08 elements; at most 4194304 "
            "are accepted") in str(error.value)


@pytest.mark.parametrize("value, match", [
    ({"__dict__": [["parameters", 5], ["plain_tensors", []]]}, "int for the parameters"),
    ({"__dict__": [["parameters", [{"__dict__": [["name", 3]]}]], ["plain_tensors", []]]}, "a parameter's name"),
    ({"__dict__": [["parameters", [{"__dict__": [["name", "w"], ["shape", [2]]]}]], ["plain_tensors", []]]},
     "without a dtype"),
    ({"__dict__": [["parameters", [{"__dict__": [["name", "w"], ["shape", {"__tuple__": [1.5]}],
                                                 ["dtype", {"__dtype__": "float32"}]]}]], ["plain_tensors", []]]},
     "not a list of sizes"),
    ({"__dict__": [["parameters", [0] * 1001], ["plain_tensors", []]]}, "1001 entries"),
])
def test_malformed_parameter_reports_are_refused(crafted, value, match):
    student = Student(crafted, {})
    crafted.next_reply = call_reply({"__handle__": 1, "type": "Conv2D"})
    module = student.Conv2D((1, 2))
    crafted.next_reply = reply(value)
    with pytest.raises(StudentError, match=match):
        module.parameters()


@pytest.mark.parametrize("value, match", [
    (5, "int for a call's reply"),
    ({"__dict__": [["ops", []]]}, "has no result"),
    ({"__dict__": [["result", 1], ["input_grads", 7]]}, "int for the input gradients"),
])
def test_malformed_call_replies_are_refused(crafted, value, match):
    crafted.next_reply = reply(value)
    with pytest.raises(StudentError, match=match) as error:
        Student(crafted, {}).corr2d(torch.zeros(3, 3), torch.zeros(2, 2))
    assert error.value.kind == "protocol"


def test_strings_from_the_sandbox_are_clipped(crafted):
    crafted.next_reply = reply({"__dict__": [["result", "x" * 50_000], ["ops", []]]})
    assert len(Student(crafted, {}).corr2d(1)) == wire.MAX_STRING_CHARS


def test_a_malformed_program_report_is_a_protocol_error_not_a_crash(crafted):
    crafted.program = {"ok": True, "value": {"cells": [{"id": "corr2d", "ok": False}], "names": []}}
    student = Student(crafted, {})
    with pytest.raises(StudentError, match="list for the names the notebook defines"):
        student.defines("corr2d")
    assert student.program_errors() == []


def test_a_request_too_large_for_the_sandbox_is_named_as_the_graders(crafted, monkeypatch):
    monkeypatch.setattr(wire, "MAX_MESSAGE_BYTES", 4096)
    crafted.next_reply = reply({"__dict__": [["result", 1], ["ops", []]]})
    with pytest.raises(StudentError, match="was not sent to the sandbox: a message of"):
        Student(crafted, {}).corr2d(torch.zeros(64, 64), torch.zeros(2, 2))


# -- end to end: through grade(), with a real sandbox ---------------------------------------

GIANT_PARAMETERS = '''
class Conv2D(nn.Module):
    """Reports a weight of shape (4096, 16384, kh, kw): a meta tensor, which costs the
    sandbox nothing, and which a grader that trusted the report would build for real."""

    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))
        self.giant = torch.empty((4096, 16384) + tuple(kernel_size), device="meta")

    def named_parameters(self, *args, **kwargs):
        yield "weight", nn.Parameter(self.giant)
        yield "bias", self.bias

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
'''


def _rss_kib(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def test_a_giant_parameter_shape_costs_the_grader_nothing_and_says_so():
    """The grading process's peak resident memory is reset, the attack graded, and the peak
    read again: a grader that built the reported weight (expand(...).clone()) would have
    grown by 512 MiB or more."""
    grade(make_submission(A1), A1, seed=5)  # warm: suites imported, zygote started
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM, this process's peak resident memory
    before = _rss_kib("VmRSS:")
    result = grade(make_submission(A1, {"Conv2D": GIANT_PARAMETERS}), A1, seed=5)
    grown_mib = (_rss_kib("VmHWM:") - before) / 1024
    assert grown_mib < 64, f"the grading process grew by {grown_mib:.0f} MiB"
    told = [t["output"] for t in result["tests"] if t["exercise"] == "Conv2D" and t["status"] == "failed"]
    assert told and any("the parameter `weight` of shape (4096, 16384, 1, 2): 1.34e+08 elements; "
                        "at most 4194304 are accepted" in o for o in told), told
    assert all("died" not in o for o in told), told


FORGED_REPLY = """
import json, os, socket, stat, struct
described = json.dumps({"t0": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
described += b" " * (-len(described) % 8)
blob = struct.pack("<Q", len(described)) + described  # 8 bytes of data promised, none sent
header = json.dumps({"payload": {"__tensor__": "t0"}}).encode()
for fd in map(int, os.listdir("/proc/self/fd")):
    try:
        if stat.S_ISSOCK(os.fstat(fd).st_mode):
            socket.socket(fileno=os.dup(fd)).sendall(struct.pack(">QQ", len(header), len(blob)) + header + blob)
    except OSError:
        pass
"""


def test_a_reply_safetensors_refuses_is_a_refused_reply_and_grade_returns():
    """The program's process answers with tensor data offsets past the end (safetensors raises
    its own SafetensorError on it): grade() returns a result that says the reply was refused,
    and the program is not run again for each check."""
    result = grade(make_submission(A1, added=[("after", "corr2d", FORGED_REPLY)]), A1, seed=3)
    assert result["gradable"] and result["score"] == 0, result
    outputs = [t["output"] for t in result["tests"]]
    assert outputs and all("the message's tensors could not be read (SafetensorError" in o for o in outputs), outputs
    assert result["execution_time"] < 60


@pytest.mark.parametrize("method, value, match", [
    ("children", [5], "not a \\(name, type\\) pair"),
    ("children", [["conv", 3]], "a layer's type"),
    ("state", {"__dict__": [["weight", 1.0]]}, "`weight` is not a tensor"),
    ("state", [1], "list for the state"),
])
def test_malformed_module_reports_are_refused(crafted, method, value, match):
    student = Student(crafted, {})
    crafted.next_reply = call_reply({"__handle__": 1, "type": "Conv2D"})
    module = student.Conv2D((1, 2))
    crafted.next_reply = reply(value)
    with pytest.raises(StudentError, match=match):
        getattr(module, method)()
