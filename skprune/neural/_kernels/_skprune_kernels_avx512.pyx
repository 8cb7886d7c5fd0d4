# Kernels compiled with AVX2, FMA and AVX-512F (x86-64), used on processors
# that have them.
include "_impl.pxi"
