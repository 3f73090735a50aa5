# cell: corr2d
# A corr2d that computes the right values and names, inside its body, modules whose import
# does something (prints, or takes seconds and hundreds of MiB): the answer runs, so every
# check that reads its source after running it must leave those modules unimported in the
# grader's own process too.
def corr2d(X, K):
    import this  # noqa: F401
    import torch._inductor.codecache  # noqa: F401
    import torch._dynamo  # noqa: F401
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
