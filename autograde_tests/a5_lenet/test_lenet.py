"""LeNet: the student writes forward() for the given layers (sigmoid activations, average pooling)."""

from grader.engine.checks import check

from . import _netchecks as nc
from ._reference import LENET


@check("LeNet", points=1, name="LeNet keeps the given layers (conv1, pool1, conv2, pool2, fc1, fc2, fc3; 61,706 parameters)")
def test_lenet_layers(student, seed):
    nc.check_layers(student, LENET, seed)


@check("LeNet", points=3, name="LeNet.forward matches torch's LeNet on one image (float32 and float64, every device)")
def test_lenet_forward(student, seed, devices):
    nc.check_forward(student, devices, LENET, seed)


@check("LeNet", points=2, name="LeNet.forward works on batches of 3 and 5 images, scoring each image on its own")
def test_lenet_batch(student, seed, devices):
    nc.check_batch(student, devices, LENET, seed)


@check("LeNet", points=2, name="gradients flow through LeNet.forward to every parameter and to the input")
def test_lenet_gradients(student, seed, devices):
    nc.check_gradients(student, devices, LENET, seed)


@check("LeNet", points=1, name="LeNet pools with the given average-pooling layers (not max pooling)")
def test_lenet_average_pooling(student, seed, devices):
    nc.check_aspect(student, devices, LENET, seed, "pooling",
                    "LeNet averages: apply the given self.pool1 and self.pool2 (nn.AvgPool2d), not max pooling.")


@check("LeNet", points=1, name="LeNet uses sigmoid activations (not ReLU or tanh)")
def test_lenet_sigmoid(student, seed, devices):
    nc.check_aspect(student, devices, LENET, seed, "sigmoid",
                    "LeNet uses torch.sigmoid after conv1, conv2, fc1 and fc2.")


@check("LeNet", points=1, name="LeNet applies a sigmoid after each of conv1, conv2, fc1 and fc2")
def test_lenet_all_activations(student, seed, devices):
    nc.check_aspect(student, devices, LENET, seed, "missing",
                    "Apply torch.sigmoid after each of conv1, conv2, fc1 and fc2.")


@check("LeNet", points=1, name="LeNet returns the raw scores of fc3 (no activation after the last layer)")
def test_lenet_raw_scores(student, seed, devices):
    nc.check_aspect(student, devices, LENET, seed, "final",
                    "Return self.fc3(x) as it is: the scores stay raw (nn.CrossEntropyLoss applies the softmax).")
