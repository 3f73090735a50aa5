"""Build the honest corpus: correct notebooks written the way students really write them.

Each notebook starts from the released notebook (exercises/<a>/<a>.ipynb) filled with the
reference answers (tests/submissions.py), then one habit is applied: a plot before a helper,
a magic, a debugging switch left on, code copied from a public course repository, a save by
VS Code or Colab. Every one of them runs clean top to bottom in Jupyter with every visible
check passing, so each deserves full marks.

    python tests/honest/build.py           # rewrite tests/honest/<a>/<name>.ipynb and README.md
    python tests/honest/build.py --check   # also run each with `jupyter nbconvert --execute`

tests/test_honest.py checks that the committed files are what this script writes.
"""

import copy
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
# this checkout's tests/ and grader (not whichever copy the venv has installed)
sys.path[:0] = [str(HERE.parent), str(HERE.parent.parent)]

from submissions import make_submission, reference_answers  # noqa: E402

A1, A2, A3, A4, A5 = ("a1_cross_correlation", "a2_padding_stride_channels", "a3_output_shapes",
                      "a4_pooling", "a5_lenet")
HABITS = []


class Habit:
    def __init__(self, assignment, edit, save):
        self.assignment, self.edit, self.save = assignment, edit, save
        self.name = edit.__name__
        self.doc = " ".join((edit.__doc__ or "").split())

    @property
    def path(self):
        return HERE / self.assignment / f"{self.name}.ipynb"

    def build(self):
        nb = nbformat.reads(make_submission(self.assignment).decode(), as_version=4)
        self.edit(_Editor(nb, self.assignment, self.name))
        return self.save(nb)

    def __repr__(self):
        return f"{self.assignment}/{self.name}"


def jupyter_save(nb):
    return (nbformat.writes(nb) + "\n").encode()


def habit(assignment, save=jupyter_save):
    def register(edit):
        HABITS.append(Habit(assignment, edit, save))
        return edit
    return register


class _Editor:
    """Edits as a student makes them in JupyterLab: answer cells rewritten, cells added."""

    def __init__(self, nb, assignment, name):
        self.nb, self.assignment, self.name = nb, assignment, name
        self.reference = reference_answers(assignment)
        self._added = 0

    def index(self, anchor):
        """A cell by its nbgrader grade_id or, for cells without one, by its cell id."""
        for i, cell in enumerate(self.nb.cells):
            if cell.metadata.get("nbgrader", {}).get("grade_id") == anchor or cell.get("id") == anchor:
                return i
        raise ValueError(f"no cell {anchor!r} in {self.assignment}")

    def cell(self, anchor):
        return self.nb.cells[self.index(anchor)]

    def answer(self, grade_id, source):
        self.cell(grade_id).source = source.strip("\n")

    def add(self, where, anchor, source, markdown=False):
        """A cell the student inserted next to `anchor` ("before" or "after"); a stable id."""
        self._added += 1
        cell_id = hashlib.sha1(f"{self.name}/{self._added}".encode()).hexdigest()[:8]
        make = nbformat.v4.new_markdown_cell if markdown else nbformat.v4.new_code_cell
        cell = make(source.strip("\n"), id=cell_id)
        self.nb.cells.insert(self.index(anchor) + (where == "after"), cell)
        return cell

    def copy_below(self, grade_id):
        """Jupyter's copy and paste: the same metadata (nbgrader's too), a new cell id."""
        i = self.index(grade_id)
        second = copy.deepcopy(self.nb.cells[i])
        self._added += 1
        second.id = hashlib.sha1(f"{self.name}/{self._added}".encode()).hexdigest()[:8]
        self.nb.cells.insert(i + 1, second)
        return self.nb.cells[i], second


# ---------------------------------------------------------------------------------------------
# shared answer sources

CORR2D_WITH_HELPER = '''
def corr2d(X, K):
    """2-D cross-correlation of X (H, W) with kernel K (h, w), no padding, stride 1."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = window_sum(X, K, i, j)
    return Y
'''

WINDOW_SUM = '''
def window_sum(X, K, i, j):
    """Sum of K times the window of X whose top-left corner is (i, j)."""
    h, w = K.shape
    return (X[i:i + h, j:j + w] * K).sum()
'''


# ---------------------------------------------------------------------------------------------
# a1_cross_correlation

@habit(A1)
def matplotlib_before_helper(e):
    """`import matplotlib.pyplot as plt` and a plot of the demo input, then the helper corr2d
    uses, all in one added cell."""
    e.add("before", "corr2d", '''
import matplotlib.pyplot as plt

# look at the demo input and kernel before writing corr2d
fig, axes = plt.subplots(1, 2, figsize=(5, 2.5))
axes[0].imshow(X_demo, cmap="gray")
axes[0].set_title("X")
axes[1].imshow(K_demo, cmap="gray")
axes[1].set_title("K")
plt.show()
''' + WINDOW_SUM)
    e.answer("corr2d", CORR2D_WITH_HELPER)


@habit(A1)
def matplotlib_inline(e):
    """`%matplotlib inline`, an InlineBackend setting through `get_ipython()`, and the helper in
    the same cell; a plot of the edge map later."""
    e.add("after", "setup", '''
%matplotlib inline
import matplotlib.pyplot as plt
get_ipython().run_line_magic("config", "InlineBackend.figure_format = 'png'")
plt.rcParams["figure.figsize"] = (4, 3)
''' + WINDOW_SUM)
    e.answer("corr2d", CORR2D_WITH_HELPER)
    e.add("after", "38fe1e0e", '''
plt.imshow(Y_edge, cmap="bwr")
plt.colorbar()
plt.title("edges found by corr2d")
plt.show()
''')


@habit(A1)
def traceback_in_helper(e):
    """A helper cell that tries the helper on a bad kernel and prints the traceback with
    `traceback.print_exc()` inside the except, as students debug."""
    e.add("before", "corr2d", '''
import traceback
''' + WINDOW_SUM + '''

# what does the error look like for a 3-D kernel?
try:
    window_sum(torch.ones(3, 3), torch.ones(2, 2, 2), 0, 0)
except Exception:
    traceback.print_exc()
print("window_sum ready")
''')
    e.answer("corr2d", CORR2D_WITH_HELPER)


@habit(A1)
def detect_anomaly_left_on(e):
    """`torch.autograd.set_detect_anomaly(True)` switched on while debugging, and left on."""
    e.add("after", "setup", '''
# debugging a NaN in learn_edge_kernel: show where backward goes wrong
torch.autograd.set_detect_anomaly(True)
''')


@habit(A1)
def display_without_import(e):
    """`display(...)` without importing it (every Jupyter kernel has it), in answer cells below
    the function and in a demo cell."""
    e.answer("corr2d", e.reference["corr2d"] + "\n\ndisplay(corr2d(X_demo, K_demo))\n")
    e.answer("Conv2D", e.reference["Conv2D"] + "\n\ndisplay(Conv2D((1, 2)))\n")
    e.add("after", "38fe1e0e", "display(X_edge.shape, Y_edge)")


@habit(A1)
def writefile_helpers(e):
    """A `%%writefile conv_helpers.py` cell, then `import conv_helpers` and corr2d built from
    the module's helpers."""
    e.add("before", "corr2d", '''
%%writefile conv_helpers.py
import torch


def window_sum(X, K, i, j):
    """Sum of K times the window of X whose top-left corner is (i, j)."""
    h, w = K.shape
    return (X[i:i + h, j:j + w] * K).sum()


def output_shape(X, K):
    return X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1
''')
    e.add("before", "corr2d", '''
import conv_helpers
from conv_helpers import output_shape, window_sum
print(conv_helpers.output_shape(X_demo, K_demo))
''')
    e.answer("corr2d", '''
def corr2d(X, K):
    """2-D cross-correlation of X (H, W) with kernel K (h, w), no padding, stride 1."""
    Y = torch.zeros(output_shape(X, K), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = window_sum(X, K, i, j)
    return Y
''')


@habit(A1)
def time_magics(e):
    """`%time` and `%timeit` lines after corr2d, and a `%%time` cell magic on top of the
    learn_edge_kernel answer cell (with a trial call inside)."""
    e.add("after", "check_corr2d", '''
%time Y_big = corr2d(torch.rand(20, 20), torch.rand(3, 3))
%timeit -n 3 -r 2 corr2d(torch.rand(8, 8), torch.rand(2, 2))
print(Y_big.shape)
''')
    e.answer("learn_edge_kernel", "%%time\n" + e.reference["learn_edge_kernel"]
             + "\n\nprint(learn_edge_kernel(X_edge, Y_edge))\n")


@habit(A1)
def shell_escapes(e):
    """`!pip list | grep torch` and `!nvidia-smi` at the top of the cell that also defines the
    helper corr2d uses."""
    e.add("before", "corr2d", '''
!pip list 2>/dev/null | grep -i "^torch "
!nvidia-smi
print("GPU:", torch.cuda.is_available())
''' + WINDOW_SUM)
    e.answer("corr2d", CORR2D_WITH_HELPER)


@habit(A1)
def torchscript_corr2d(e):
    """corr2d decorated with `@torch.jit.script` (TorchScript reads the cell's source)."""
    body = e.reference["corr2d"].split('"""\n', 1)[1]
    e.answer("corr2d", '@torch.jit.script\ndef corr2d(X, K):\n    """Scripted for speed."""\n' + body)


@habit(A1)
def pickle_notebook_class(e):
    """`pickle` and `torch.save`/`torch.load` of a Conv2D layer, a class defined in the
    notebook, in a cell after the Conv2D checks."""
    e.add("after", "check_Conv2D", '''
import pickle

layer = Conv2D((1, 2))
copy_of_layer = pickle.loads(pickle.dumps(layer))
print(torch.equal(copy_of_layer.weight, layer.weight))
torch.save(layer, "conv2d_layer.pt")
reloaded = torch.load("conv2d_layer.pt", weights_only=False)
print(reloaded(torch.ones(2, 3)))
''')


@habit(A1)
def copied_answer_cell(e):
    """The corr2d answer cell copied with Jupyter's copy/paste (same nbgrader metadata); the
    first copy has an off-by-one output shape, the second, below it, is the fixed one that
    Run All keeps."""
    first, _ = e.copy_below("corr2d")
    first.source = e.reference["corr2d"].strip("\n").replace(
        "Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1)",
        "Y = torch.zeros((X.shape[0] - h, X.shape[1] - w)")
    assert first.source != e.reference["corr2d"].strip("\n")


@habit(A1)
def own_comparison_in_answer_cell(e):
    """The student's own comparison with `F.conv2d` at the bottom of the corr2d answer cell,
    outside the function."""
    e.answer("corr2d", e.reference["corr2d"] + '''

# my own check against PyTorch
X_t, K_t = torch.randn(6, 7), torch.randn(3, 2)
print(torch.allclose(corr2d(X_t, K_t), F.conv2d(X_t[None, None], K_t[None, None])[0, 0], atol=1e-6))
''')


@habit(A1)
def global_Y_from_conv2d(e):
    """A global `Y = F.conv2d(...)` in an added exploration cell, while corr2d uses a local Y."""
    e.add("before", "corr2d", '''
# what the answer should look like, from PyTorch
Y = F.conv2d(X_demo[None, None], K_demo[None, None])[0, 0]
Y
''')


@habit(A1)
def background_thread(e):
    """A daemon thread ticking every 5 ms, started after the imports and left running."""
    e.add("after", "setup", '''
import threading
import time

heartbeat = {"ticks": 0}

def keep_alive():
    # ticks every 5 ms, so I can see the kernel is alive during long cells
    while True:
        heartbeat["ticks"] += 1
        time.sleep(0.005)

threading.Thread(target=keep_alive, daemon=True).start()
''')


@habit(A1)
def d2l_public_code(e):
    """corr2d, Conv2D and the kernel-learning loop from d2l.ai (d2l-ai/d2l-en, chapter
    "Convolutions for Images"), adapted to keep X's dtype and device."""
    e.answer("corr2d", '''
def corr2d(X, K):  #@save
    """Compute 2D cross-correlation (d2l.ai 7.2.1, with X's dtype and device)."""
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
''')
    e.answer("Conv2D", '''
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
''')
    e.answer("learn_edge_kernel", '''
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    # d2l.ai 7.2.4 "Learning a Kernel", for any (H, W) input
    # Construct a two-dimensional convolutional layer with 1 output channel and a
    # kernel of shape (1, 2). For the sake of simplicity, we ignore the bias here
    conv2d = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(X.device, X.dtype)
    X = X.detach().reshape((1, 1) + tuple(X.shape))
    Y = Y.detach().to(X).reshape((1, 1) + tuple(Y.shape))
    for i in range(num_epochs):
        Y_hat = conv2d(X)
        l = (Y_hat - Y) ** 2
        conv2d.zero_grad()
        l.sum().backward()
        # Update the kernel
        conv2d.weight.data[:] -= lr * conv2d.weight.grad
        if (i + 1) % 2 == 0:
            print(f'epoch {i + 1}, loss {l.sum():.3f}')
    return conv2d.weight.data.reshape((1, 2))
''')


@habit(A1)
def korean_names(e):
    """Korean comments and variable names (valid Python identifiers) in corr2d and
    learn_edge_kernel."""
    e.answer("corr2d", '''
def corr2d(X, K):
    """2차원 교차 상관: X (H, W)와 커널 K (h, w), 패딩 없음, 스트라이드 1."""
    높이, 너비 = K.shape
    # 출력 크기는 (H - h + 1, W - w + 1)
    출력 = torch.zeros((X.shape[0] - 높이 + 1, X.shape[1] - 너비 + 1), dtype=X.dtype, device=X.device)
    for 행 in range(출력.shape[0]):
        for 열 in range(출력.shape[1]):
            # 창(window)과 커널의 원소별 곱의 합
            출력[행, 열] = (X[행:행 + 높이, 열:열 + 너비] * K).sum()
    return 출력
''')
    e.answer("learn_edge_kernel", '''
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    """에지 이미지 X에서 (1, 2) 커널을 경사 하강법으로 학습합니다."""
    높이, 너비 = X.shape
    합성곱 = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False).to(dtype=X.dtype, device=X.device)
    입력 = X.detach().reshape(1, 1, 높이, 너비)
    정답 = Y.detach().to(dtype=X.dtype, device=X.device).reshape(1, 1, 높이, 너비 - 1)
    for 에폭 in range(num_epochs):
        손실 = ((합성곱(입력) - 정답) ** 2).sum()   # 제곱 오차의 합
        합성곱.zero_grad()
        손실.backward()
        합성곱.weight.data[:] -= lr * 합성곱.weight.grad
    return 합성곱.weight.detach().reshape(1, 2).clone()
''')


@habit(A1)
def seeded_and_printing_learner(e):
    """learn_edge_kernel written by hand from a `torch.rand` start: it seeds the global
    generator inside the function and prints the loss every epoch."""
    e.answer("learn_edge_kernel", '''
def learn_edge_kernel(X, Y, lr=3e-2, num_epochs=10):
    torch.manual_seed(0)   # the same start every run: easier to debug
    K = torch.rand((1, 2), dtype=X.dtype, device=X.device, requires_grad=True)
    target = Y.detach().to(X)
    for epoch in range(num_epochs):
        loss = ((corr2d(X.detach(), K) - target) ** 2).sum()
        loss.backward()
        with torch.no_grad():
            K -= lr * K.grad
        K.grad.zero_()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, K = {K.detach().tolist()}")
    return K.detach()
''')


@habit(A1)
def global_call_counter(e):
    """corr2d counts its calls in a module-level variable through a `global` statement."""
    body = e.reference["corr2d"].split('"""\n', 1)[1]
    e.answer("corr2d", 'calls = 0\n\n\ndef corr2d(X, K):\n    """Counts how often it runs."""\n'
             '    global calls\n    calls += 1\n' + body)
    e.add("after", "38fe1e0e", 'print("corr2d ran", calls, "times so far")')


@habit(A1)
def main_guard_self_test(e):
    """An `if __name__ == "__main__":` self-test below the Conv2D class, as in a script."""
    e.answer("Conv2D", e.reference["Conv2D"] + '''

if __name__ == "__main__":
    layer = Conv2D((1, 2))
    print(layer.weight, layer.bias)
    assert layer(torch.ones(3, 4)).shape == (3, 3)
''')


def colab_save(nb, accelerator=None):
    """The notebook as Colab saves it: nbformat 4.0, cell ids in the cell metadata, a colab
    block, and recorded outputs with their `outputId`s."""
    raw = json.loads(nbformat.writes(nb))
    raw["nbformat_minor"] = 0
    raw["metadata"] = {"colab": {"provenance": [], "toc_visible": True},
                       "kernelspec": {"name": "python3", "display_name": "Python 3"},
                       "language_info": {"name": "python"}}
    if accelerator:
        raw["metadata"]["accelerator"] = accelerator
        raw["metadata"]["gpuClass"] = "standard"
    for n, cell in enumerate(raw["cells"]):
        cell_id = cell.pop("id")
        cell["metadata"] = {"id": cell_id, **cell["metadata"]}
        if cell["cell_type"] != "code":
            continue
        checks = re.search(r'print\("([\w ]+: (visible|sanity) checks passed)', "".join(cell["source"]))
        if checks:
            output_id = hashlib.sha1(f"{cell_id}/{n}".encode()).hexdigest()[:12]
            cell["metadata"].update({"colab": {"base_uri": "https://localhost:8080/"}, "outputId": output_id})
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": [checks.group(1) + "\n"]}]
            cell["execution_count"] = n
    return (json.dumps(raw, indent=2, ensure_ascii=False) + "\n").encode()


@habit(A1, save=colab_save)
def colab_saved(e):
    """Saved by Google Colab: nbformat 4.0 (no cell ids, Colab keeps them in the cell
    metadata), colab metadata, stream outputs carrying `outputId`s."""


# ---------------------------------------------------------------------------------------------
# a2_padding_stride_channels

@habit(A2)
def import_pad_conv2d(e):
    """`from torch.nn.functional import pad, conv2d` in the answer cell: only `pad` is used in
    the function, `conv2d` only in the student's comparison cell further down."""
    e.answer("corr2d_padded_strided", '''
from torch.nn.functional import pad, conv2d


def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    p_h, p_w = padding if isinstance(padding, (tuple, list)) else (padding, padding)
    s_h, s_w = stride if isinstance(stride, (tuple, list)) else (stride, stride)
    h, w = K.shape
    Xp = pad(X, (p_w, p_w, p_h, p_h))
    out_h = (Xp.shape[0] - h) // s_h + 1
    out_w = (Xp.shape[1] - w) // s_w + 1
    rows = []
    for i in range(out_h):
        row = [(Xp[i * s_h:i * s_h + h, j * s_w:j * s_w + w] * K).sum() for j in range(out_w)]
        rows.append(torch.stack(row))
    return torch.stack(rows)
''')
    e.add("after", "cd734b30", '''
X_c, K_c = torch.randn(7, 9), torch.randn(3, 2)
print(torch.allclose(corr2d_padded_strided(X_c, K_c, 1, 2),
                     conv2d(X_c[None, None], K_c[None, None], padding=1, stride=2)[0, 0], atol=1e-6))
''')


@habit(A2)
def self_test_loop_1x1(e):
    """A one-line 1x1 answer followed, in the same cell, by a self-test loop over channel
    counts."""
    e.answer("corr2d_multi_in_out_1x1", '''
def corr2d_multi_in_out_1x1(X, K):
    return (K.reshape(K.shape[0], -1).to(X.dtype) @ X.reshape(X.shape[0], -1)).reshape(K.shape[0], *X.shape[1:])


# self-test against the loop version on a few channel counts
for c_i, c_o in [(1, 1), (3, 2), (4, 7)]:
    X_t, K_t = torch.randn(c_i, 5, 6), torch.randn(c_o, c_i, 1, 1)
    assert torch.allclose(corr2d_multi_in_out_1x1(X_t, K_t), corr2d_multi_in_out(X_t, K_t), atol=1e-5)
print("1x1: self-test passed")
''')


def vscode_save(nb):
    """The notebook as VS Code re-saves an older file: nbformat_minor 2 while keeping cell ids,
    the interpreter in the metadata."""
    raw = json.loads(nbformat.writes(nb))
    raw["nbformat_minor"] = 2
    raw["metadata"] = {
        "kernelspec": {"display_name": ".venv", "language": "python", "name": "python3"},
        "language_info": {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
                          "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
                          "pygments_lexer": "ipython3", "version": "3.11.9"},
        "vscode": {"interpreter": {"hash": "3e5f1c0d9a7b4e2f8c6d0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d"}},
    }
    return (json.dumps(raw, indent=1, ensure_ascii=False) + "\n").encode()


@habit(A2, save=vscode_save)
def vscode_resaved(e):
    """Re-saved by VS Code: `nbformat_minor` 2 with the cell ids kept (nbformat's schema puts
    ids at 4.5), VS Code's interpreter metadata."""


@habit(A2)
def lambda_answers(e):
    """corr2d_multi_in and corr2d_multi_in_out written as one-line lambdas."""
    e.answer("corr2d_multi_in", '''
# one line is enough: sum over the input channels
corr2d_multi_in = lambda X, K: sum(corr2d(x, k) for x, k in zip(X, K))
''')
    e.answer("corr2d_multi_in_out", '''
corr2d_multi_in_out = lambda X, K: torch.stack([corr2d_multi_in(X, k) for k in K], 0)
''')


@habit(A2)
def eecs498_naive_loops(e):
    """corr2d_padded_strided and corr2d_multi_in_out in the style of the naive convolution
    forward pass of EECS 498-007 / CS231n (`conv_forward_naive`: pad, then a loop per
    output coordinate), adapted to one channel and torch."""
    e.answer("corr2d_padded_strided", '''
def corr2d_padded_strided(X, K, padding=(0, 0), stride=(1, 1)):
    # adapted from conv_forward_naive (EECS 498-007 / CS231n): pad, then one loop per output pixel
    pad_h, pad_w = (padding, padding) if isinstance(padding, int) else padding
    stride_h, stride_w = (stride, stride) if isinstance(stride, int) else stride
    H, W = X.shape
    HH, WW = K.shape
    x_pad = torch.nn.functional.pad(X, (pad_w, pad_w, pad_h, pad_h))
    H_out = 1 + (H + 2 * pad_h - HH) // stride_h
    W_out = 1 + (W + 2 * pad_w - WW) // stride_w
    out = X.new_zeros((H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[i * stride_h:i * stride_h + HH, j * stride_w:j * stride_w + WW]
            out[i, j] = torch.sum(window * K)
    return out
''')
    e.answer("corr2d_multi_in_out", '''
def corr2d_multi_in_out(X, K):
    F_out, C, HH, WW = K.shape
    _, H, W = X.shape
    out = X.new_zeros((F_out, H - HH + 1, W - WW + 1))
    for f in range(F_out):   # one filter at a time
        out[f] = corr2d_multi_in(X, K[f])
    return out
''')


@habit(A2)
def d2l_channels(e):
    """corr2d_multi_in, corr2d_multi_in_out and the 1x1 matrix product from d2l.ai (chapter
    "Multiple Input and Multiple Output Channels"), the 1x1 one cast to X's dtype."""
    e.answer("corr2d_multi_in", '''
def corr2d_multi_in(X, K):
    # Iterate through the 0th dimension (channel) of K first, then add them up
    return sum(corr2d(x, k) for x, k in zip(X, K))
''')
    e.answer("corr2d_multi_in_out", '''
def corr2d_multi_in_out(X, K):
    # Iterate through the 0th dimension of K, and each time, perform
    # cross-correlation operations with input X. All of the results are
    # stacked together
    return torch.stack([corr2d_multi_in(X, k) for k in K], 0)
''')
    e.answer("corr2d_multi_in_out_1x1", '''
def corr2d_multi_in_out_1x1(X, K):
    c_i, h, w = X.shape
    c_o = K.shape[0]
    X = X.reshape((c_i, h * w))
    K = K.reshape((c_o, c_i)).to(X.dtype)
    # Matrix multiplication in the fully connected layer
    Y = torch.matmul(K, X)
    return Y.reshape((c_o, h, w))
''')


# ---------------------------------------------------------------------------------------------
# a3_output_shapes

@habit(A3)
def namedtuple_shape(e):
    """conv2d_output_shape returns a `collections.namedtuple` (a tuple subclass, equal to the
    plain tuple of ints)."""
    e.answer("conv2d_output_shape", '''
from collections import namedtuple

ConvShape = namedtuple("ConvShape", ["N", "C", "H", "W"])


''' + e.reference["conv2d_output_shape"].replace(
        "    return (n, int(out_channels),", "    return ConvShape(n, int(out_channels),"))


@habit(A3)
def numpy_int_counts(e):
    """conv2d_num_params and conv2d_macs computed with `np.prod`, so they return numpy
    integers equal to the right count (the notebook's intro asks for plain `int`s; the
    functions' docstrings only for the count)."""
    e.answer("conv2d_num_params", "import numpy as np\n\n\n" + e.reference["conv2d_num_params"].replace(
        "    return c_out * (c_in // g) * kh * kw + (c_out if bias else 0)",
        "    return np.prod([c_out, c_in // g, kh, kw]) + (c_out if bias else 0)"))
    e.answer("conv2d_macs", e.reference["conv2d_macs"].replace(
        "    return n * c_out * h_out * w_out * (c_in // g) * kh * kw",
        "    return np.prod([n, c_out, h_out, w_out, c_in // g, kh, kw])"))


@habit(A3)
def traceback_in_validation_helper(e):
    """The argument checks of conv_output_size go through a helper whose `except` prints the
    traceback with `traceback.print_exc()` before re-raising the ValueError."""
    e.add("before", "conv_output_size", '''
import traceback


def must(condition, message):
    """Raise ValueError(message) unless condition, printing the traceback while I debug."""
    if not condition:
        try:
            raise ValueError(message)
        except ValueError:
            traceback.print_exc()
            raise
''')
    e.answer("conv_output_size", '''
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    must(min(n, kernel_size, stride, dilation) >= 1 and padding >= 0,
         "need n, kernel_size, stride, dilation >= 1 and padding >= 0")
    out = (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1
    must(out >= 1, f"the dilated kernel does not fit the padded input ({n + 2 * padding})")
    return int(out)
''')


@habit(A3)
def sys_modules_main(e):
    """A helper cell that looks itself up through `sys.modules[__name__]` (which answers
    exist yet) and defines the `pair` helper conv2d_output_shape uses."""
    e.add("before", "conv2d_output_shape", '''
import sys

# which of my functions exist yet? (handy when re-running cells out of order)
this_notebook = sys.modules[__name__]
done = [name for name in ("conv_output_size", "conv_transpose_output_size", "pool_output_size")
        if callable(getattr(this_notebook, name, None))]
print("defined so far:", done)


def pair(v):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"expected an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)
''')
    e.answer("conv2d_output_shape", '''
def conv2d_output_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 4:
        raise ValueError(f"input_shape must be (N, C, H, W), got {shape}")
    n, _, h, w = shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(kernel_size), pair(stride), pair(padding), pair(dilation)
    return (n, int(out_channels), conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw))
''')


@habit(A3)
def hypothesis_property(e):
    """A hypothesis property test comparing conv_output_size with nn.Conv1d, run in a cell
    after the visible checks."""
    e.add("after", "check_conv_output_size", '''
from hypothesis import given, settings, strategies as st


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 3))
def test_conv_output_size_matches_torch(n, k, s, p, d):
    try:
        real = nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d)(torch.zeros(1, 1, n)).shape[-1]
    except RuntimeError:
        real = None
    try:
        mine = conv_output_size(n, k, s, p, d)
    except ValueError:
        mine = None
    assert mine == real, (n, k, s, p, d, mine, real)


test_conv_output_size_matches_torch()
print("hypothesis: conv_output_size agrees with nn.Conv1d")
''')


@habit(A3)
def future_annotations(e):
    """`from __future__ import annotations` at the top of two answer cells (legal at the top of
    a cell, as IPython compiles each cell on its own), with type hints."""
    e.answer("conv_output_size", '''
from __future__ import annotations


def conv_output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
''' + e.reference["conv_output_size"].split("):\n", 1)[1])
    e.answer("receptive_field", '''
from __future__ import annotations


def receptive_field(layers: list[tuple[int, ...]]) -> int:
''' + e.reference["receptive_field"].split("):\n", 1)[1])


@habit(A3)
def dataclass_layers(e):
    """receptive_field parses each layer into a `@dataclass(frozen=True)` defined in the
    answer cell."""
    e.answer("receptive_field", '''
from dataclasses import dataclass


@dataclass(frozen=True)
class Layer:
    kernel_size: int
    stride: int = 1
    dilation: int = 1

    @classmethod
    def parse(cls, spec):
        spec = tuple(spec)
        if len(spec) not in (2, 3):
            raise ValueError(f"a layer is (kernel_size, stride) or (kernel_size, stride, dilation), got {spec!r}")
        layer = cls(*(int(v) for v in spec))
        if min(layer.kernel_size, layer.stride, layer.dilation) < 1:
            raise ValueError("kernel_size, stride and dilation must be >= 1")
        return layer


def receptive_field(layers):
    size, jump = 1, 1
    for layer in map(Layer.parse, layers):
        size += layer.dilation * (layer.kernel_size - 1) * jump
        jump *= layer.stride
    return size
''')


@habit(A3)
def tabs_indentation(e):
    """pool_output_size indented with tabs, as an editor set to tabs writes it."""
    source = e.reference["pool_output_size"]
    e.answer("pool_output_size", re.sub(r"^((?:    )+)", lambda m: "\t" * (len(m.group(1)) // 4),
                                        source, flags=re.MULTILINE))


@habit(A3)
def lru_cache_sizes(e):
    """conv_output_size and pool_output_size memoised with `@functools.lru_cache`."""
    e.answer("conv_output_size", "import functools\n\n\n@functools.lru_cache(maxsize=None)\n"
             + e.reference["conv_output_size"])
    e.answer("pool_output_size", "@functools.lru_cache(maxsize=None)\n" + e.reference["pool_output_size"])


@habit(A3)
def cs231n_float_formula(e):
    """The output-size formulas written as in CS231n / EECS 498 notes, with true division
    and `math.floor`/`math.ceil`, converted back to int."""
    e.answer("conv_output_size", '''
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    # CS231n: (W - F + 2P) / S + 1, with the dilated kernel's span for F
    if min(n, kernel_size, stride, dilation) < 1 or padding < 0:
        raise ValueError("n, kernel_size, stride, dilation must be >= 1 and padding >= 0")
    span = dilation * (kernel_size - 1) + 1
    out = int(math.floor((n + 2 * padding - span) / stride)) + 1
    if out < 1:
        raise ValueError(f"the kernel ({span}) does not fit the padded input ({n + 2 * padding})")
    return out
''')
    e.answer("pool_output_size", '''
def pool_output_size(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    stride = kernel_size if stride is None else stride
    if min(n, kernel_size, stride, dilation) < 1 or padding < 0:
        raise ValueError("n, kernel_size, stride, dilation must be >= 1 and padding >= 0")
    if padding > kernel_size // 2:
        raise ValueError("pad should be at most half of the kernel size")
    span = dilation * (kernel_size - 1) + 1
    rounding = math.ceil if ceil_mode else math.floor
    out = int(rounding((n + 2 * padding - span) / stride)) + 1
    if ceil_mode and (out - 1) * stride >= n + padding:
        out -= 1   # the last window may not start in the right padding
    if out < 1:
        raise ValueError(f"output size {out} is too small")
    return out
''')


# ---------------------------------------------------------------------------------------------
# a4_pooling

@habit(A4)
def black_formatted_raise(e):
    """pool2d formatted by black: a long `raise ValueError(...)` split so that a continuation
    line starts with `% (padding, kernel_size)`."""
    e.answer("pool2d", '''
def pool2d(X, kernel_size, stride=None, padding=0, mode="max"):
    """Max or average pooling over the last two dimensions of X."""

    def pair(v):
        return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))

    if mode not in ("max", "avg"):
        raise ValueError("mode must be 'max' or 'avg', got %r" % (mode,))
    kh, kw = pair(kernel_size)
    sh, sw = (kh, kw) if stride is None else pair(stride)
    ph, pw = pair(padding)
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(
            "padding should be at most half of the kernel size, got padding=%r for kernel_size=%r"
            % (padding, kernel_size)
        )
    if ph or pw:
        fill = float("-inf") if mode == "max" else 0.0
        X = F.pad(X, (pw, pw, ph, ph), value=fill)
    h_out = (X.shape[-2] - kh) // sh + 1
    w_out = (X.shape[-1] - kw) // sw + 1
    taps = [
        X[..., i : i + sh * (h_out - 1) + 1 : sh, j : j + sw * (w_out - 1) + 1 : sw]
        for i in range(kh)
        for j in range(kw)
    ]
    windows = torch.stack(taps, dim=-1)
    if mode == "max":
        return windows.max(dim=-1).values
    return windows.mean(dim=-1)
''')


@habit(A4)
def helpers_after_answer(e):
    """pool2d's helpers live in a cell the student added below the answer cell (and above the
    visible checks), so Run All defines them before pool2d is first called."""
    e.answer("pool2d", '''
def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    check_mode(mode)
    kh, kw = as_pair(kernel_size)
    sh, sw = (kh, kw) if stride is None else as_pair(stride)
    ph, pw = as_pair(padding)
    check_padding(ph, pw, kh, kw)
    X = pad_for(X, ph, pw, mode)
    h_out = (X.shape[-2] - kh) // sh + 1
    w_out = (X.shape[-1] - kw) // sw + 1
    rows = []
    for i in range(h_out):
        cols = [reduce_window(X[..., i * sh:i * sh + kh, j * sw:j * sw + kw], mode) for j in range(w_out)]
        rows.append(torch.stack(cols, dim=-1))
    return torch.stack(rows, dim=-2)
''')
    e.add("after", "pool2d", '''
# helpers for pool2d (kept below it while I was working on them)
def as_pair(v):
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def check_mode(mode):
    if mode not in ('max', 'avg'):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")


def check_padding(ph, pw, kh, kw):
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError("padding should be at most half of the kernel size")


def pad_for(X, ph, pw, mode):
    if not (ph or pw):
        return X
    return F.pad(X, (pw, pw, ph, ph), value=float('-inf') if mode == 'max' else 0.0)


def reduce_window(window, mode):
    flat = window.flatten(-2)
    return flat.max(dim=-1).values if mode == 'max' else flat.mean(dim=-1)
''')


@habit(A4)
def korean_pool2d(e):
    """pool2d with Korean variable names and comments, and a Korean markdown note."""
    e.answer("pool2d", '''
def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    """X의 마지막 두 차원에 대한 최대/평균 풀링."""
    def 쌍(값):
        return (int(값[0]), int(값[1])) if isinstance(값, (tuple, list)) else (int(값), int(값))

    if mode not in ('max', 'avg'):
        raise ValueError(f"mode는 'max' 또는 'avg'여야 합니다: {mode!r}")
    창_높이, 창_너비 = 쌍(kernel_size)
    보폭_높이, 보폭_너비 = (창_높이, 창_너비) if stride is None else 쌍(stride)
    패딩_높이, 패딩_너비 = 쌍(padding)
    if 패딩_높이 > 창_높이 // 2 or 패딩_너비 > 창_너비 // 2:
        raise ValueError("패딩은 커널 크기의 절반 이하여야 합니다")
    # 최대 풀링은 -inf로, 평균 풀링은 0으로 채웁니다
    채움값 = float('-inf') if mode == 'max' else 0.0
    입력 = F.pad(X, (패딩_너비, 패딩_너비, 패딩_높이, 패딩_높이), value=채움값)
    출력_높이 = (입력.shape[-2] - 창_높이) // 보폭_높이 + 1
    출력_너비 = (입력.shape[-1] - 창_너비) // 보폭_너비 + 1
    조각들 = [입력[..., i:i + 보폭_높이 * (출력_높이 - 1) + 1:보폭_높이, j:j + 보폭_너비 * (출력_너비 - 1) + 1:보폭_너비]
            for i in range(창_높이) for j in range(창_너비)]
    창들 = torch.stack(조각들, dim=-1)
    return 창들.max(dim=-1).values if mode == 'max' else 창들.mean(dim=-1)
''')
    e.add("before", "pool2d", "**내 풀이**: 창마다 한 번씩 자르지 않고, 창 안의 위치마다 한 번씩 자릅니다.",
          markdown=True)


@habit(A4)
def d2l_pool2d_loops(e):
    """d2l.ai's `pool2d` (chapter "Pooling": a loop over output positions), extended to
    padding, stride and leading dimensions."""
    e.answer("pool2d", '''
def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    # d2l.ai 7.5.1 pool2d, extended: stride, padding, leading dimensions, X's dtype and device
    p_h, p_w = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    s_h, s_w = (p_h, p_w) if stride is None else ((stride, stride) if isinstance(stride, int) else stride)
    pad_h, pad_w = (padding, padding) if isinstance(padding, int) else padding
    if mode not in ('max', 'avg'):
        raise ValueError(f'unknown mode {mode!r}')
    if pad_h > p_h // 2 or pad_w > p_w // 2:
        raise ValueError('pad should be at most half of the kernel size')
    if pad_h or pad_w:
        X = F.pad(X, (pad_w, pad_w, pad_h, pad_h), value=float('-inf') if mode == 'max' else 0.0)
    out_h = (X.shape[-2] - p_h) // s_h + 1
    out_w = (X.shape[-1] - p_w) // s_w + 1
    Y = torch.zeros(X.shape[:-2] + (out_h, out_w), dtype=X.dtype, device=X.device)
    for i in range(out_h):
        for j in range(out_w):
            window = X[..., i * s_h: i * s_h + p_h, j * s_w: j * s_w + p_w].flatten(-2)
            if mode == 'max':
                Y[..., i, j] = window.max(dim=-1).values
            elif mode == 'avg':
                Y[..., i, j] = window.mean(dim=-1)
    return Y
''')


@habit(A4)
def enum_logging_warnings(e):
    """pool2d with an `enum.Enum` for the mode, a module logger set up by
    `logging.basicConfig`, and a `warnings.warn` reminder on padded average pooling."""
    body = e.reference["pool2d"].split('"""\n', 1)[1]
    body = body.replace('''    if mode not in ('max', 'avg'):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
''', '''    try:
        mode = Mode(mode)
    except ValueError:
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}") from None
    log.debug("pool2d on %s, mode %s", tuple(X.shape), mode.value)
''')
    body = body.replace("    if ph or pw:\n", '''    if (ph or pw) and mode is Mode.AVG:
        warnings.warn("average pooling counts the padded zeros", stacklevel=2)
    if ph or pw:
''')
    e.answer("pool2d", '''
import enum
import logging
import warnings

logging.basicConfig(level=logging.INFO)
log = logging.getLogger("pool2d")


class Mode(str, enum.Enum):
    MAX = 'max'
    AVG = 'avg'


def pool2d(X, kernel_size, stride=None, padding=0, mode='max'):
    """Max or average pooling over the last two dimensions of X."""
''' + body)


@habit(A4)
def hypothesis_vs_torch_pooling(e):
    """A hypothesis property test comparing pool2d with `F.max_pool2d`/`F.avg_pool2d` in a
    cell after the visible checks."""
    e.add("after", "check_pool2d", '''
from hypothesis import given, settings, strategies as st


@settings(max_examples=30, deadline=None)
@given(h=st.integers(2, 9), w=st.integers(2, 9), k=st.integers(1, 3), s=st.integers(1, 3),
       mode=st.sampled_from(["max", "avg"]), seed=st.integers(0, 1000))
def test_pool2d_matches_torch(h, w, k, s, mode, seed):
    k = min(k, h, w)
    X = torch.randn(1, 2, h, w, generator=torch.Generator().manual_seed(seed))
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    assert torch.allclose(pool2d(X, k, s, 0, mode), pool(X, k, s), atol=1e-6)


test_pool2d_matches_torch()
print("hypothesis: pool2d agrees with torch")
''')


TINY_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@habit(A4)
def jupyterlab_saved_with_outputs(e):
    """Saved by JupyterLab after Run All: execution counts, stream outputs, a PNG plot,
    JupyterLab's cell metadata (`tags`, `jupyter.source_hidden`, `execution` timings) and
    the full `language_info`."""
    e.nb.metadata["language_info"] = {
        "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
        "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3", "version": "3.11.7"}
    count = 0
    for cell in e.nb.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        cell.metadata["tags"] = []
        cell.metadata["execution"] = {"iopub.execute_input": "2026-03-02T09:14:05.118Z",
                                      "shell.execute_reply": "2026-03-02T09:14:05.301Z"}
        printed = re.findall(r'print\("([^"{}]*)"\)', cell.source)
        if printed:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="\n".join(printed) + "\n")]
    demo = e.cell("ca0dd847")
    demo.metadata["jupyter"] = {"source_hidden": False, "outputs_hidden": False}
    demo.outputs.append(nbformat.v4.new_output("display_data", data={"image/png": TINY_PNG,
                                                                     "text/plain": "<Figure size 640x480 with 1 Axes>"}))


# ---------------------------------------------------------------------------------------------
# a5_lenet

@habit(A5)
def dataloader_workers(e):
    """A training demo through `DataLoader(..., num_workers=2)`, in a cell between the LeNet
    and CifarNet answers."""
    e.add("after", "2be43567", '''
from torch.utils.data import DataLoader, TensorDataset

loader = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True, num_workers=2)
net = LeNet()
opt = torch.optim.SGD(net.parameters(), lr=0.5)
for step, (xb, yb) in enumerate(loader):
    loss = F.cross_entropy(net(xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step == 2:
        break
print("three batches through the DataLoader, loss", loss.item())
''')


@habit(A5)
def torch_save_model(e):
    """The trained LeNet (a class defined in the notebook) saved whole with `torch.save`,
    loaded back with `torch.load(weights_only=False)`, and pickled."""
    e.add("after", "2be43567", '''
import pickle

torch.save(net, "lenet.pt")
torch.save(net.state_dict(), "lenet_weights.pt")
restored = torch.load("lenet.pt", weights_only=False)
clone = pickle.loads(pickle.dumps(net))
print(torch.equal(restored(X_test[:2]), net(X_test[:2])), torch.equal(clone(X_test[:2]), net(X_test[:2])))
''')


@habit(A5)
def dlwpt_cifarnet(e):
    """CifarNet.forward as in Deep Learning with PyTorch (Stevens, Antiga, Viehmann; the
    dlwpt-code repository, chapter 8 `Net`), flattening with `view(-1, 8 * 8 * 8)`."""
    e.answer("CifarNet", e.reference["CifarNet"].split("    def forward")[0] + '''    def forward(self, x):
        # Deep Learning with PyTorch, chapter 8 (dlwpt-code p1ch8): the course's model
        out = self.pool1(self.act1(self.conv1(x)))
        out = self.pool2(self.act2(self.conv2(out)))
        out = out.view(-1, 8 * 8 * 8)
        out = self.act3(self.fc1(out))
        out = self.fc2(out)
        return out
''')


@habit(A5)
def d2l_lenet(e):
    """LeNet.forward walking d2l.ai's layer order (chapter "LeNet": conv, sigmoid, pool, ...,
    `nn.Flatten()`), over the layers given in `__init__`; layer_output_shapes with hooks."""
    e.answer("LeNet", e.reference["LeNet"].split("    def forward")[0] + '''    def forward(self, X):
        # the layer order of d2l.ai 7.6 (LeNet), over the layers given above
        for layer in (self.conv1, torch.sigmoid, self.pool1,
                      self.conv2, torch.sigmoid, self.pool2, nn.Flatten(),
                      self.fc1, torch.sigmoid, self.fc2, torch.sigmoid, self.fc3):
            X = layer(X)
        return X
''')
    e.answer("layer_output_shapes", '''
def layer_output_shapes(model, input_shape):
    # d2l prints X.shape after each layer of a Sequential; hooks do the same for any forward
    shapes = []
    hooks = [layer.register_forward_hook(lambda m, i, out: shapes.append(tuple(out.shape)))
             for layer in model.children()]
    param = next(model.parameters())
    X = torch.zeros(input_shape, dtype=param.dtype, device=param.device)
    try:
        with torch.no_grad():
            model(X)
    finally:
        for h in hooks:
            h.remove()
    return shapes
''')


@habit(A5, save=lambda nb: colab_save(nb, accelerator="GPU"))
def colab_saved_gpu(e):
    """Saved by Colab with a GPU runtime (accelerator metadata), a device-selection cell and
    the training demo moved to that device."""
    e.add("after", "setup", '''
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print("running on", device)
''')
    e.add("after", "2be43567", '''
net_gpu = LeNet().to(device)
print(net_gpu(X_test[:4].to(device)).argmax(dim=1).cpu())
''')


@habit(A5)
def autoreload_and_capture(e):
    """`%load_ext autoreload` / `%autoreload 2` at the top, and the training cell wrapped in
    `%%capture training_log`, printed in the next cell."""
    e.add("after", "setup", "%load_ext autoreload\n%autoreload 2")
    training = e.cell("2be43567")
    training.source = "%%capture training_log\n" + training.source
    e.add("after", "2be43567", "print(training_log.stdout[-300:])")


@habit(A5)
def tqdm_training(e):
    """A short training loop with a `tqdm.auto` progress bar, before the CifarNet answer."""
    e.add("after", "2be43567", '''
from tqdm.auto import tqdm

net = LeNet()
opt = torch.optim.Adam(net.parameters(), lr=5e-3)
for step in tqdm(range(3), desc="training"):
    idx = torch.randint(0, len(X_train), (32,))
    loss = F.cross_entropy(net(X_train[idx]), y_train[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"loss {loss.item():.3f}")
''')


@habit(A5)
def no_grad_decorator(e):
    """layer_output_shapes decorated with `@torch.no_grad()`, hooks removed in a `finally`,
    and a `super(LeNet, self).__init__()` call in the Python 2 style."""
    e.answer("LeNet", e.reference["LeNet"].replace("super().__init__()", "super(LeNet, self).__init__()"))
    e.answer("layer_output_shapes", '''
@torch.no_grad()
def layer_output_shapes(model, input_shape):
    first = next(iter(model.parameters()))
    shapes, handles = [], []
    for child in model.children():
        handles.append(child.register_forward_hook(lambda module, args, output: shapes.append(tuple(output.shape))))
    was_training = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        model(torch.zeros(*input_shape, dtype=first.dtype, device=first.device))
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in was_training:
            m.training = mode
    return shapes
''')


# ---------------------------------------------------------------------------------------------

def _table_cell(text):
    return text.replace("|", "\\|")   # a pipe inside a Markdown table cell ends the cell


def readme():
    lines = ["# The honest corpus", "",
             "Correct notebooks written the way students write them: each runs clean top to bottom",
             "in Jupyter (`jupyter nbconvert --to notebook --execute`) with every visible check",
             "passing, so each must get full marks. `build.py` makes them from the released notebooks",
             "and the reference answers, then applies one habit; `tests/test_honest.py` grades them",
             "and compares with `nbgrader autograde`. Rebuild after changing an exercise:",
             "`python tests/honest/build.py` (`--check` also runs each notebook in Jupyter).", "",
             "| notebook | the habit it tests |", "|---|---|"]
    lines += [f"| `{h.assignment}/{h.name}.ipynb` | {_table_cell(h.doc)} |" for h in HABITS]
    return "\n".join(lines) + "\n"


def outputs():
    """{path: bytes} of every file this script writes."""
    files = {h.path: h.build() for h in HABITS}
    files[HERE / "README.md"] = readme().encode()
    return files


def run_in_jupyter(habit, raw, workdir, jupyter):
    """Execute one notebook as Jupyter does (in a scratch copy: some cells write files)."""
    folder = Path(workdir) / habit.assignment / habit.name
    folder.mkdir(parents=True)
    path = folder / f"{habit.assignment}.ipynb"
    path.write_bytes(raw)
    run = subprocess.run([jupyter, "nbconvert", "--to", "notebook", "--execute", "--output", "executed.ipynb",
                          "--ExecutePreprocessor.timeout=300", str(path)],
                         cwd=folder, capture_output=True, text=True, timeout=900)
    return run


def main(argv):
    files = outputs()
    for path, raw in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
    stale = {p for p in HERE.glob("*/*.ipynb")} - set(files)
    for path in stale:
        path.unlink()
    print(f"wrote {len(HABITS)} notebooks")
    if "--check" in argv:
        jupyter = str(Path(sys.executable).with_name("jupyter"))
        failed = []
        with tempfile.TemporaryDirectory() as workdir:
            for h in HABITS:
                run = run_in_jupyter(h, files[h.path], workdir, jupyter)
                print("ok  " if run.returncode == 0 else "FAIL", h, flush=True)
                if run.returncode:
                    failed.append(h)
                    print(run.stderr[-3000:])
        shutil.rmtree(HERE / "__pycache__", ignore_errors=True)
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
