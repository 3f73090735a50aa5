# cell: corr2d
# The program's process (E) sends every later message through the engine's own framing, but
# with a safetensors blob whose header is valid (a known dtype, a small shape) and whose data
# offsets point past the end of the data: the progress report of the next cell and the
# program's reply, the reply every check waits on. (tests/test_wire.py's end-to-end test
# writes a forged frame straight onto E's socket from a cell; this one corrupts the sender.)
import json as _json
import struct as _struct
import sys as _sys


def _malformed(tensors):
    header = {name: {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 4096]} for name in tensors}
    text = _json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return _struct.pack("<Q", len(text)) + text + b"\0" * 16


def _framing_with_malformed_tensors(wire):
    def pack(header, tensors):
        header_bytes = _json.dumps(header, allow_nan=True).encode()
        blob = _malformed(tensors or {"t0": None})
        return wire._FRAME.pack(len(header_bytes), len(blob)) + header_bytes + blob
    return pack


for _module in list(_sys.modules.values()):
    if hasattr(_module, "save_tensors") and hasattr(_module, "pack") and hasattr(_module, "_FRAME"):
        _module.save_tensors = _malformed
        _module.pack = _framing_with_malformed_tensors(_module)
        print("note: the engine's replies now carry a malformed safetensors blob", flush=True)


def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
