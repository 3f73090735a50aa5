# loses:
# cell: corr2d
def corr2d(inp, ker):
    """Cross-correlation by summing shifted copies of the input."""
    # how many rows/cols in the answer
    nr = out_len(inp.shape[0], ker.shape[0])
    nc = out_len(inp.shape[1], ker.shape[1])
    acc = torch.zeros(nr, nc, dtype=inp.dtype, device=inp.device)
    for p in range(ker.shape[0]):
        for q in range(ker.shape[1]):
            # add this kernel entry times the shifted input
            acc = acc + ker[p, q] * window_at(inp, p, q, nr, nc)
    return acc


def window_at(inp, p, q, nr, nc):
    return inp[p:p + nr, q:q + nc]


def out_len(size, ksize):
    return size - ksize + 1
