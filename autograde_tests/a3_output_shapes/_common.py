"""Shared by the a3_output_shapes checks: torch references and case-by-case comparison.

Every expected value is what torch itself does: the output length of F.conv1d /
F.conv_transpose1d / F.max_pool1d (exactly what nn.Conv1d, nn.ConvTranspose1d and
nn.MaxPool1d run in forward) on a zeros input, F.conv2d's output shape on a zeros input,
sum(p.numel()) of a real nn.Conv2d, FlopCounterMode on a real nn.Conv2d run.
Where torch raises, the student's function must raise ValueError (the notebook's contract), or
an exception of a class derived from it (`except ValueError` catches it).

The student's functions are cheap but every call is a round trip into the sandbox, so
the sweeps take a sample of a grid drawn from the submission's seed; torch's answers are
computed once per grading process (functools.lru_cache, bounded: a process grades
thousands of submissions, each with its own seed), on one thread.
"""

import functools
import inspect
import itertools

import torch
import torch.nn.functional as F
from torch import nn

from grader.engine.checks import CheckFailed, same_value
from grader.engine.diagnoses import diagnose_calls
from grader.engine.student import StudentError

from .mistakes import BY_EXERCISE


class Raises:
    """torch raises for this case; `why` is the first line of torch's message."""

    def __init__(self, why):
        self.why = why

    def __repr__(self):
        return f"Raises({self.why!r})"


_KNOWN_ERRORS = ["Kernel size can't be greater than actual input size",
                 "output padding must be smaller than either stride or dilation",
                 "should be at most half", "is too small", "must be divisible by groups"]


def _torch_error(exc):
    """A short reason for a failure message: the telling part of torch's error."""
    text = str(exc).strip()
    for phrase in _KNOWN_ERRORS:
        if phrase in text:
            if phrase == "should be at most half":
                return "padding should be at most half of the kernel size"
            if phrase == "is too small":
                return "the output size would be smaller than 1"
            return phrase
    return text.splitlines()[0][:110] if text else type(exc).__name__


def _attempt(run):
    try:
        return run()
    except (RuntimeError, ValueError) as exc:
        return Raises(_torch_error(exc))


class Accepted:
    """torch accepts this case: the student's function must not raise (its value is checked elsewhere)."""

    def __init__(self, value):
        self.value = value



# -- one axis: nn.Conv1d / nn.ConvTranspose1d / nn.MaxPool1d -----------------------------

@functools.lru_cache(maxsize=4096)
def conv1d_length(n, k, s=1, p=0, d=1):
    return _attempt(lambda: F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s,
                                     padding=p, dilation=d).shape[-1])


@functools.lru_cache(maxsize=4096)
def conv_transpose1d_length(n, k, s=1, p=0, op=0, d=1):
    return _attempt(lambda: F.conv_transpose1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), stride=s,
                                               padding=p, output_padding=op,
                                               dilation=d).shape[-1])


@functools.lru_cache(maxsize=4096)
def max_pool1d_length(n, k, s=None, p=0, d=1, ceil=False):
    return _attempt(lambda: F.max_pool1d(torch.zeros(1, 1, n), k, stride=s, padding=p, dilation=d,
                                         ceil_mode=ceil).shape[-1])


# -- nn.Conv2d -----------------------------------------------------------------------------

def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


@functools.lru_cache(maxsize=4096)
def conv2d_shape(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1):
    """The output shape of nn.Conv2d(C, out_channels, ...) on input_shape: the spatial sizes
    from running F.conv2d (what nn.Conv2d runs) on a zeros (1, 1, H, W) input with one filter;
    the batch size is kept and the channels become out_channels."""
    n, _, h, w = input_shape
    kh, kw = _pair(kernel_size)

    def run():
        out = F.conv2d(torch.zeros(1, 1, h, w), torch.zeros(1, 1, kh, kw), stride=stride,
                       padding=padding, dilation=dilation)
        return (n, out_channels, *out.shape[-2:])
    return _attempt(run)


@functools.lru_cache(maxsize=4096)
def conv2d_params(in_channels, out_channels, kernel_size, bias=True, groups=1):
    def run():
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias, groups=groups)
        return sum(p.numel() for p in conv.parameters())
    return _attempt(run)


@functools.lru_cache(maxsize=4096)
def conv2d_macs(input_shape, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1):
    """FlopCounterMode on a real nn.Conv2d run (zeros input); it counts a multiply-add as 2 FLOPs."""
    from torch.utils.flop_counter import FlopCounterMode  # imports torch._dynamo: once per process

    def run():
        conv = nn.Conv2d(input_shape[1], out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=groups, bias=False)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            conv(torch.zeros(input_shape))
        return counter.get_total_flops() // 2
    return _attempt(run)


@functools.lru_cache(maxsize=4096)
def measured_receptive_field(layers):
    """Measure with autograd: all-ones Conv1d stack, gradient of the central output unit."""
    jump, bound = 1, 1
    for layer in layers:
        k, s, d = (tuple(layer) + (1,))[:3]
        bound += d * (k - 1) * jump + k * jump
        jump *= s
    n = 2 * bound + 4 * jump + 8
    x = torch.ones(1, 1, n, dtype=torch.float64, requires_grad=True)
    y = x
    for layer in layers:
        k, s, d = (tuple(layer) + (1,))[:3]
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, y.shape[-1] // 2].backward()
    seen = x.grad[0, 0].nonzero()
    return int(seen.max() - seen.min() + 1)


# -- calling the student ---------------------------------------------------------------------

def conv_output_size_call(n, k, s=1, p=0, d=1):
    """(args, kwargs) of conv_output_size as every check calls it: n and kernel_size by
    position, stride and padding by name, dilation by name where it is not 1. An excuse's
    probe calls it the same way, so no call tells a probe from a check."""
    kwargs = {"stride": s, "padding": p}
    if d != 1:
        kwargs["dilation"] = d
    return (n, k), kwargs


def call_text(function, args, kwargs):
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{function}({', '.join(parts)})"


def compare_cases(student, function, cases, reference, excuse=None):
    """Call student.<function> on every case; fail with the first wrong one and a count, and
    the known mistake of `function` (mistakes.py) whose values the student's fit.

    cases: (args, kwargs, expected) with expected a value or Raises; reference: what the
    expected value comes from, for the message ("nn.Conv1d": "... nn.Conv1d gives 5").
    excuse(args, kwargs, got): True when a value returned where torch raises is what the
    student's own parts give (a composite is not charged for the missing error of a part
    that has its own check).
    """
    wrong, outcomes = [], []
    for args, kwargs, expected in cases:
        call = call_text(function, args, kwargs)
        prefix = f"`{function}` raised "
        try:
            got, error = getattr(student, function)(*args, **kwargs), None
        except StudentError as exc:
            if exc.kind != "raised":
                raise
            got, error = None, exc
        outcomes.append((args, kwargs, expected, got if error is None else error))
        if isinstance(expected, Raises):
            if error is None and excuse is not None and excuse(args, kwargs, got):
                continue
            if error is None:
                wrong.append(f"{call} returned {got!r}, but torch raises here ({expected.why}); "
                             "it should raise ValueError")
            elif not error.is_a(ValueError):
                wrong.append(f"{call} raised {error.type_name}; torch cannot run this either "
                             f"({expected.why}), but the exception should be a ValueError (or of a "
                             f"class derived from it), and {error.type_name} is not one")
        elif isinstance(expected, Accepted):
            if error is not None:
                wrong.append(f"{call} raised {str(error).removeprefix(prefix)[:200]}; torch accepts "
                             f"these arguments ({reference} gives {expected.value!r})")
        elif error is not None:
            wrong.append(f"{call} raised {str(error).removeprefix(prefix)[:200]}; {reference} "
                         f"gives {expected!r}")
        elif not same_value(got, expected):
            wrong.append(f"{call} returned {got!r}; {reference} gives {expected!r}")
    if wrong:
        more = f" ({len(wrong)} of {len(cases)} cases are wrong)" if len(wrong) > 1 else ""
        raise CheckFailed(wrong[0] + more, diagnosis=diagnosis(outcomes, BY_EXERCISE.get(function, ())))


def diagnosis(outcomes, mistakes):
    """The known mistakes whose values the student's fit on every case (grader.engine.diagnoses),
    each case's arguments bound to the exercise's parameters, which every `returns` of
    `mistakes` takes; an error raised where a mistake gives a value never fits it.
    outcomes: (args, kwargs, expected, what the student returned or the error it raised)."""
    if not mistakes:
        return None
    parameters = inspect.signature(mistakes[0].returns)
    calls = []
    for args, kwargs, expected, got in outcomes:
        try:
            values = dict(parameters.bind(*args, **kwargs).arguments)
        except TypeError:
            return None
        calls.append((got, expected.value if isinstance(expected, Accepted) else expected, values))
    return diagnose_calls(calls, mistakes, same_value)


def sweep(make_case, settings, valid, errors, rng, owned=(), leave_out=None, always=()):
    """`valid` cases torch accepts and `errors` cases it rejects, drawn in the order of
    `rng` (a random.Random from the submission's seed) from `settings` (dicts of make_case's
    arguments); torch runs only on those drawn. Errors whose reason contains one of `owned`
    are left out: a ValueError check of their own charges them, so a missing ValueError
    costs one check, not two; so are the settings `leave_out(setting)` names.

    `always`: (predicate, count) pairs. The first `count` settings of the draw for which
    predicate(setting) holds come before every other: a kind of case too rare in the grid
    to be drawn at every seed is in every sweep, so a mistake that only it shows costs the
    sweep under every seed, never at random."""
    settings = list(settings)
    rng.shuffle(settings)
    first = []
    for predicate, count in always:
        first += [setting for setting in settings if predicate(setting) and setting not in first][:count]
    settings = first + [setting for setting in settings if setting not in first]
    accepted, rejected = [], []
    for setting in settings:
        if len(accepted) >= valid and len(rejected) >= errors:
            break
        if leave_out is not None and leave_out(setting):
            continue
        case = make_case(**setting)
        if isinstance(case[2], Raises) and any(phrase in case[2].why for phrase in owned):
            continue
        bucket, quota = (rejected, errors) if isinstance(case[2], Raises) else (accepted, valid)
        if len(bucket) < quota:
            bucket.append(case)
    return accepted + rejected


def grid(**axes):
    names = list(axes)
    for values in itertools.product(*axes.values()):
        yield dict(zip(names, values))
