# Kernels compiled with AVX2 and FMA (x86-64), used on processors that have them.
include "_impl.pxi"
