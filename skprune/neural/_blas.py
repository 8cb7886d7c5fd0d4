"""One BLAS thread for a while: the one way the package limits BLAS.

Training on small products, the solves of the second-order and layer-wise
criteria (:func:`on_one_blas_thread`), the traces of OBC, the calibration of
the inference costs and the dense layers of a prediction run BLAS on one
thread. :func:`one_blas_thread` does what
``threadpoolctl.threadpool_limits(limits=1, user_api="blas")`` does, for
less than a microsecond instead of about 10 (a one-sample prediction's last
layer takes as long): the libraries are found once, and again only after a
module was imported since (which is how a new BLAS library gets loaded),
and only those running more than one thread are changed.
"""

import functools
import sys

from threadpoolctl import ThreadpoolController

_found = {"n_modules": -1, "libraries": ()}


def blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded."""
    n_modules = len(sys.modules)
    if n_modules != _found["n_modules"]:
        _found["libraries"] = tuple(
            ThreadpoolController().select(user_api="blas").lib_controllers
        )
        _found["n_modules"] = n_modules
    return _found["libraries"]


class one_blas_thread:
    """Context manager: BLAS on one thread inside, its limits restored after.

    Examples
    --------
    >>> import numpy as np
    >>> from skprune.neural._blas import one_blas_thread
    >>> with one_blas_thread():
    ...     product = np.ones((300, 300)) @ np.ones((300, 300))
    """

    __slots__ = ("_limits",)

    def __enter__(self):
        self._limits = [
            (library, library.num_threads)
            for library in blas_libraries()
            if library.num_threads > 1
        ]
        for library, _ in self._limits:
            library.set_num_threads(1)
        return self

    def __exit__(self, *exc_info):
        for library, limit in self._limits:
            library.set_num_threads(limit)
        return False


def on_one_blas_thread(function):
    """Decorator: run ``function`` with one BLAS thread.

    For stacks of solves of at most a layer's fan-in, one LAPACK call each,
    for which a second thread gains little: on a loaded machine the threads
    of each call wait for each other (a stack of OBS solves took 2.5 to 20
    times longer with two threads than with one), and scipy's LAPACK may
    come with a BLAS library of its own beside numpy's, whose threads then
    compete for the cores with those numpy's left spinning (the re-fit of a
    pruned network's layers took 5 times longer on two threads than on one).
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return function(*args, **kwargs)

    return wrapper
