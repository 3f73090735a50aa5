# Attack: corr2d zeroes X in place after computing, then swaps X's class for a subclass whose
# detach() returns a copy saved beforehand, so that anything reading the argument back through
# its own methods sees it unchanged. Judged by behaviour, a second call on the same X shows it;
# and assigning `__class__` is something the static rule cannot follow, so the course's policy
# voids every check of corr2d.
# loses: test_corr2d_worked_example test_corr2d_output_shape test_corr2d_fills_every_position test_corr2d_random_values test_corr2d_not_flipped test_corr2d_keeps_dtype test_corr2d_keeps_device test_corr2d_input_unchanged test_corr2d_gradients test_corr2d_no_builtin_conv
# cell: corr2d
class _LooksUnchanged(torch.Tensor):
    def detach(self):
        return self.__dict__["_copy"]


def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    if not X.requires_grad and not K.requires_grad:
        copy = X.clone()
        X.data.mul_(0)
        X.__class__ = _LooksUnchanged
        X.__dict__["_copy"] = copy
    return Y
