# cell: corr2d
# Every reply's tensors go out as a safetensors blob whose header is valid (a known dtype, a
# small shape) but whose data offsets point past the end of the data.
import json as _json
import struct as _struct
import sys as _sys


def _malformed(tensors):
    header = {name: {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 4096]} for name in tensors}
    text = _json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return _struct.pack("<Q", len(text)) + text + b"\0" * 16


for _module in list(_sys.modules.values()):
    if hasattr(_module, "save_tensors") and hasattr(_module, "pack"):
        _module.save_tensors = _malformed
        print("note: the engine's replies now carry a malformed safetensors blob", flush=True)


def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
