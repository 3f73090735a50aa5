# cell: corr2d
# The code corr2d reaches names modules whose import does something (prints, or takes seconds
# and hundreds of MiB): a rule that imports what the source names to resolve it must not
# import these in the grader's own process.
def corr2d(X, K):
    import this  # noqa: F401
    import __hello__  # noqa: F401
    import torch._inductor.codecache as cache
    import torch._dynamo
    torch._dynamo.reset()
    return cache.__name__
