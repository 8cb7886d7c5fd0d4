# Kernels compiled for the baseline instruction set of the target.
include "_impl.pxi"
