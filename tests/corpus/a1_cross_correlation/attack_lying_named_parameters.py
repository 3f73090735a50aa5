# Attack: plain tensors (the notebook's trap), with named_parameters() and state_dict() that
# report decoy nn.Parameters of the right names and shapes, so a grader that believes the module
# sees registered parameters. Judged by behaviour: nn.Module's load_state_dict loads nothing into
# plain tensors, so the forward never computes with loaded values, and no gradient is judged on
# tensors that are not registered. It loses what the honest plain-tensor mistake
# (conv2d_plain_tensors) loses, nothing less.
# loses: test_conv2d_parameters_registered test_conv2d_gradients
# cell: Conv2D
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = torch.rand(kernel_size, requires_grad=True)
        self.bias = torch.zeros(1, requires_grad=True)
        self._decoys = {"weight": nn.Parameter(self.weight.detach().clone()),
                        "bias": nn.Parameter(self.bias.detach().clone())}

    def named_parameters(self, *args, **kwargs):
        return iter(list(self._decoys.items()))

    def parameters(self, *args, **kwargs):
        return iter(list(self._decoys.values()))

    def state_dict(self, *args, **kwargs):
        return {name: p.detach() for name, p in self._decoys.items()}

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
