"""CifarNet: the student writes a forward() that flattens between the convolutional and linear parts."""

from grader.engine.checks import check

from . import _netchecks as nc
from ._reference import CIFARNET


@check("CifarNet", points=1, name="CifarNet keeps the given layers (conv1, act1, pool1, conv2, act2, pool2, fc1, act3, fc2; 18,090 parameters)")
def test_cifarnet_layers(student, seed):
    nc.check_layers(student, CIFARNET, seed)


@check("CifarNet", points=3, name="CifarNet.forward matches torch's CifarNet on one image (float32 and float64, every device)")
def test_cifarnet_forward(student, seed, devices):
    nc.check_forward(student, devices, CIFARNET, seed)


@check("CifarNet", points=2, name="CifarNet.forward works on batches of 3 and 5 images, scoring each image on its own")
def test_cifarnet_batch(student, seed, devices):
    nc.check_batch(student, devices, CIFARNET, seed)


@check("CifarNet", points=1, name="gradients flow through CifarNet.forward to every parameter and to the input")
def test_cifarnet_gradients(student, seed, devices):
    nc.check_gradients(student, devices, CIFARNET, seed)


@check("CifarNet", points=1, name="CifarNet flattens (N, 8, 8, 8) to (N, 512) in channel, row, column order")
def test_cifarnet_flatten_order(student, seed, devices):
    nc.check_aspect(student, devices, CIFARNET, seed, "flatten",
                    "fc1 expects the features in the order of x.flatten(1) on the (N, C, H, W) tensor; "
                    "do not permute or transpose before flattening.")


@check("CifarNet", points=1, name="CifarNet applies act1, act2 and act3 (tanh) and returns fc2's raw scores")
def test_cifarnet_activations(student, seed, devices):
    nc.check_aspect(student, devices, CIFARNET, seed, "activations",
                    "Apply self.act1 after conv1, self.act2 after conv2, self.act3 after fc1, "
                    "and return self.fc2(x) without an activation.")
