"""Build of the compiled kernels; the metadata lives in pyproject.toml.

The kernels are built with OpenMP when the compiler has it (checked by
compiling and linking a small program), serially otherwise or when the
environment variable ``SKPRUNE_NO_OPENMP`` is set to a non-empty value other
than ``0``. On x86-64 copies are also compiled with AVX2 and FMA, and with
AVX-512F for the block kernels of 4 and 8 outputs, used at run time on
processors that have them.
"""

import os
import platform
import tempfile
import textwrap

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = "skprune/neural/_kernels"
OPENMP_TEST = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += omp_get_num_threads() > 0;
        return n > 0 ? 0 : 1;
    }
    """
)
VECTOR_TEST = textwrap.dedent(
    """
    typedef double v __attribute__((vector_size(32)));
    int main(void) {
        v a = {0};
        a = a * a + a;
        return (int)a[0];
    }
    """
)
# Instruction-set variants of the kernels compiled on x86-64 and their flags.
VARIANTS = {
    "_avx2": ["-mavx2", "-mfma"],
    # The batch kernels of CSR and of blocks of 4 and 8 outputs only, by a
    # target pragma.
    "_avx512": ["-mavx2", "-mfma", "-DSKP_AVX512_BLOCKS", "-DSKP_WIDE_CHUNKS"],
}


def _openmp_wanted():
    return os.environ.get("SKPRUNE_NO_OPENMP", "") in ("", "0")


def _compiles(compiler, source, flags):
    """Whether ``source`` compiles and links with ``flags``."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "test.c")
        with open(path, "w") as f:
            f.write(source)
        try:
            objects = compiler.compile(
                [path], output_dir=folder, extra_postargs=flags
            )
            compiler.link_executable(
                objects, "test", output_dir=folder, extra_postargs=flags
            )
        except Exception:  # any compiler or linker error means no
            return False
    return True


def _openmp_flags(compiler):
    if not _openmp_wanted():
        print("skprune: building the kernels without OpenMP (SKPRUNE_NO_OPENMP)")
        return []
    candidates = (["/openmp"],) if compiler.compiler_type == "msvc" else (
        ["-fopenmp"],
    )
    for flags in candidates:
        if _compiles(compiler, OPENMP_TEST, flags):
            print(f"skprune: building the kernels with OpenMP ({' '.join(flags)})")
            return flags
    print("skprune: the compiler has no OpenMP; building the kernels serially")
    return []


class BuildKernels(build_ext):
    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:  # the variants compile side by side
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        unix = self.compiler.compiler_type != "msvc"
        openmp = _openmp_flags(self.compiler)
        optimize = ["-O3"] if unix else ["/O2"]
        kept = []
        for extension in self.extensions:
            flags = optimize + openmp
            variant = "_" + extension.name.rsplit("_", 1)[-1]
            if variant in VARIANTS:
                isa = VARIANTS[variant]
                if not (unix and _compiles(self.compiler, VECTOR_TEST, isa)):
                    print(f"skprune: the compiler cannot build {variant}; skipped")
                    continue
                flags = flags + isa
            extension.extra_compile_args = flags
            extension.extra_link_args = openmp
            kept.append(extension)
        self.extensions = kept
        super().build_extensions()


def _extensions():
    from Cython.Build import cythonize

    # Top-level modules, not inside the package: from a source checkout,
    # ``python -m skprune`` imports the package from the checkout, which has
    # no compiled files, and still finds the kernels where pip put them.
    names = ["generic"]
    if platform.machine().lower() in ("x86_64", "amd64"):
        names += [variant.lstrip("_") for variant in VARIANTS]
    extensions = [
        Extension(f"_skprune_kernels_{name}", [f"{KERNELS}/_skprune_kernels_{name}.pyx"])
        for name in names
    ]
    return cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildKernels})
