"""The check bodies shared by LeNet and CifarNet (test_lenet.py, test_cifarnet.py).

Each network is checked from several independent angles, so that one mistake costs the
checks aimed at it and no others:

- layers: the given __init__ is intact: torch's parameters loaded into it give torch's output
  or that of a single usual mistake in forward;
- forward: one image, float32 and float64, every device, against torch's network;
- batch: on 3 and 5 images the output is (N, classes) and every row equals the
  student's own output for that image alone, computed in another copy of the notebook (so
  an activation mistake does not cost this check, a batch-of-one flatten does);
- gradients: autograd through the student's forward agrees with torch's autograd through
  the network the output matches, torch's or a usual mistake's (so a forward mistake does
  not cost it, a `.data` does);
- aimed checks: the student's output is compared with the usual single mistakes
  (max pooling, ReLU, a missing activation, ...). Such a check passes only with evidence
  that its aspect is right: the output matches torch's network, or matches a mistake in
  another aspect.
"""

import torch

from grader.engine import diagnoses
from grader.engine.checks import CheckFailed, Inputs, agree, describe, expect_close, expect_tensor, fail, inputs, rng
from grader.engine.student import RemoteObject, StudentError

from . import _reference as ref
from . import mistakes


def _shape(value):
    return tuple(value.shape) if isinstance(value, torch.Tensor) else None


def check_layers(student, net, seed):
    """The given layers are intact, judged by behaviour: with torch's parameters loaded through
    them, the output on one image is torch's network's, or that network with one usual mistake
    in forward (the aimed checks charge those). What the module says about its parameters and
    children can fail this check (the messages name them) but never pass it."""
    model = student_model_plain(student, net)
    try:  # the layers are given: credit them only once forward is written
        model(torch.zeros(net.input_shape(1)))
    except StudentError as error:
        if error.is_a(NotImplementedError):
            fail(f"{net.name}.forward is not written yet: {error}")
    info = model.parameters()
    got = [(p["name"], tuple(p["shape"])) for p in info["parameters"]]
    if got != net.params:
        fail(f"your {net.name} has the parameters {ref._param_list(got)}; the given __init__ creates "
             f"{ref._param_list(net.params)}. Keep the layers of __init__ as given and write only forward.")
    model = ref.student_model(student, net, "cpu", torch.float32, ref.params(net, seed))
    out = model(ref.image_batch(net, 1, seed))
    if ref.matching_variant(net, seed, 1, out) is None:
        fail(f"with torch's parameters loaded into the given layers, your {net.name}'s output on one image "
             f"({describe(out)}) matches neither torch's {net.name} nor {net.name} with a single usual mistake "
             "in forward: keep the layers of __init__ as given (types, sizes, order of use) and write only forward.")


def _a(word):
    return f"{'an' if word[:1] in 'AEIOU' else 'a'} {word}"


def student_model_plain(student, net):
    model = getattr(student, net.name)()
    if not isinstance(model, RemoteObject):
        fail(f"{net.name}() should create an nn.Module, but returned {describe(model)}")
    return model


FORWARD_MISTAKES = {"LeNet": mistakes.LENET_FORWARD, "CifarNet": mistakes.CIFARNET_FORWARD}


def check_forward(student, devices, net, seed):
    for device in devices:
        for dtype in (torch.float32, torch.float64):
            state = ref.params(net, seed, dtype)
            model = ref.student_model(student, net, device, dtype, state)
            x = ref.image_batch(net, 1, seed, dtype).to(device)
            expected = ref.reference(net, state, x)
            shown = inputs(x=x)
            on = Inputs(shown, {**shown.values, "params": state}, shown.shown)  # the mistakes need both
            expect_close(model(x), expected, f"{net.name}.forward", on, mistakes=FORWARD_MISTAKES[net.name])


BATCH_SIZES = (3, 5)


def _single_outputs(student, devices, net, seed):
    """{(device, n): the student's output for each image of the batch of n alone, stacked}."""
    singles = {}
    for device in devices:
        model = ref.student_model(student, net, device, torch.float32, ref.params(net, seed))
        for n in BATCH_SIZES:
            x = ref.image_batch(net, n, seed, purpose="batch").to(device)
            rows = []
            for i in range(n):
                one = model(x[i:i + 1])
                expect_tensor(one, f"{net.name}.forward")
                if one.numel() != net.n_out:
                    fail(f"{net.name}.forward returned {describe(one)} for one image of shape "
                         f"{net.input_shape(1)}; expected {net.n_out} class scores of shape (1, {net.n_out})")
                rows.append(one.reshape(1, net.n_out))
            singles[device, n] = torch.cat(rows)
    return singles


def check_batch(student, devices, net, seed):
    """The images one at a time first; then, in a fresh copy of the notebook that has not run
    those calls (so it cannot hand back what they returned), the batches."""
    singles = _single_outputs(student, devices, net, seed)
    student.begin_check()
    for device in devices:
        model = ref.student_model(student, net, device, torch.float32, ref.params(net, seed))
        for n in BATCH_SIZES:
            x = ref.image_batch(net, n, seed, purpose="batch").to(device)
            try:
                out = model(x)
            except StudentError as error:
                fail(f"on a batch of {n} images (x of shape {tuple(x.shape)}) {error}. Your forward works "
                     f"for one image only: keep the batch dimension when flattening, e.g. x.flatten(1) or "
                     f"x.view(x.size(0), -1), never a hard-coded batch size.")
            expect_tensor(out, f"{net.name}.forward")
            if tuple(out.shape) != (n, net.n_out):
                fail(f"{net.name}.forward returned shape {tuple(out.shape)} for a batch of {n} images "
                     f"(x of shape {tuple(x.shape)}); expected ({n}, {net.n_out}), one row of scores per "
                     "image. Keep the batch dimension when flattening (x.flatten(1)).")
            expected = singles[device, n].to(out.device, out.dtype)
            # 1e-4: rows of images mixed up differ by at least the spread between two images'
            # scores (over 7e-3 on these inputs), while a batch computed in float32 differs from
            # its images computed one at a time by up to 1.5e-6 for the notes' networks and 1.1e-5
            # for one that does not saturate (ReLU): 1e-5 charged that noise as a mix-up.
            close = torch.isclose(out.detach(), expected, rtol=1e-4, atol=1e-4).all(dim=1)
            if not bool(close.all()):
                row = int((~close).nonzero()[0])
                fail(f"on a batch of {n} images (x of shape {tuple(x.shape)}), row {row} of the output "
                     f"differs from your output for image {row} alone: the images of a batch got mixed up. "
                     "Flatten each image on its own with x.flatten(1) (or x.view(x.size(0), -1)).")


def check_gradients(student, devices, net, seed):
    """Autograd through the student's forward against torch's autograd through the network its
    output matches (torch's, or the one with the usual mistake it makes, so a forward mistake
    does not cost this check), in float64 with the parameters loaded here. Both sides
    differentiate the same function exactly (max pooling included, ties or not); no finite
    differences, which cross a max-pool's kinks at near-ties."""
    gen = rng(seed, f"{net.name} gradient directions")
    for device in devices:
        dtype = torch.float64
        model = ref.student_model(student, net, device, dtype, ref.params(net, seed, dtype))
        x = ref.image_batch(net, 1, seed, dtype).to(device)
        out = expect_tensor(model(x), f"{net.name}.forward")
        grad_out = torch.randn(tuple(out.shape), generator=gen, dtype=dtype)
        result = model.run(x.clone().requires_grad_(True), backward=grad_out.to(device))
        grads = result.param_grads or {}
        missing = [name for name, _ in net.params if not isinstance(grads.get(name), torch.Tensor)]
        if missing:
            fail(f"after backward() through {net.name}.forward on an image of shape {net.input_shape(1)}, "
                 f"{', '.join(m + '.grad' for m in missing)} {'is' if len(missing) == 1 else 'are'} None: "
                 "your forward cuts the autograd graph (.data, .detach(), .item(), .numpy(), torch.tensor(...) "
                 "or a torch.no_grad() block); use only tensor operations on x.")
        x_grad = (result.input_grads or [None])[0]
        if not isinstance(x_grad, torch.Tensor):
            fail(f"after backward() through {net.name}.forward, the input image has no gradient: your forward "
                 "cuts the autograd graph between x and the output (.data, .detach(), torch.tensor(...)).")
        out = expect_tensor(result.result, f"{net.name}.forward")  # the output of the call that computed the gradients
        index = ref.matching_variant(net, seed, 1, out)
        if index is None:
            fail(f"your {net.name}'s output on one image ({describe(out)}) matches neither torch's {net.name} "
                 f"nor {net.name} with a single usual mistake, so its gradients could not be judged "
                 "(the forward check says what differs)")
        expected, expected_x = ref.variant_gradients(net, seed, 1, index, grad_out)
        for name, grad in [*((k, grads[k]) for k, _ in net.params), ("the input", x_grad)]:
            want = expected_x if name == "the input" else expected[name]
            got = grad.detach().cpu().to(dtype)
            if got.numel() != want.numel() or not bool(
                    agree(got.reshape(want.shape), want, rtol=1e-5, atol=1e-8).all()):
                fail(f"the gradient autograd computes for {name if name == 'the input' else name + '.grad'} "
                     f"through your {net.name}.forward ({describe(got)}) differs from torch's for the same "
                     f"forward ({describe(want)}; float64 on {device}): something in forward breaks autograd "
                     "(.data, .detach(), in-place changes of a tensor autograd still needs, or a rebuilt tensor).")


def check_aspect(student, devices, net, seed, aspect, advice):
    """Fails when the student's output is that of a known mistake in `aspect` (see module doc);
    the failure names the mistake as its diagnosis."""
    for device in devices:
        model = ref.student_model(student, net, device, torch.float32, ref.params(net, seed))
        x = ref.image_batch(net, 1, seed).to(device)
        out = model(x)
        index = ref.matching_variant(net, seed, 1, out)
        if index == -1 or (index is not None and ref.variants(net)[index][0] != aspect):
            continue
        if index is None:
            fail(f"your {net.name}'s output on one image ({describe(out)}) matches neither torch's {net.name} "
                 f"nor {net.name} with a single usual mistake, so this could not be confirmed. {advice}")
        mistake = ref.variants(net)[index][1]
        raise CheckFailed(f"your {net.name}'s output on one image (x of shape {net.input_shape(1)}, {device}) "
                          f"is what {mistake.name} gives. {advice}",
                          diagnosis=mistake.sentence() if diagnoses.ENABLED else None)
