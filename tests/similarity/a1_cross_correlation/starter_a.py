# the released stubs: nothing written
# loses:
# cell: unused
