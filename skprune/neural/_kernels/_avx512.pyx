# Kernels compiled with AVX-512 (x86-64), used on processors that have them.
include "_impl.pxi"
