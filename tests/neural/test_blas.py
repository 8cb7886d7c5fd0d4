"""One BLAS thread for a while, through threadpoolctl's controllers."""

import sys
import types

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from skprune.neural import _blas
from skprune.neural._blas import one_blas_thread


def _blas_threads():
    return {
        lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"
    }


def test_one_blas_thread_inside_and_the_limits_restored_after():
    with threadpool_limits(2, user_api="blas"):
        with one_blas_thread():
            assert _blas_threads() == {1}
            with one_blas_thread():  # nested
                assert _blas_threads() == {1}
            assert _blas_threads() == {1}
        assert _blas_threads() == {2}
        with pytest.raises(ZeroDivisionError):
            with one_blas_thread():
                1 / 0
        assert _blas_threads() == {2}


def test_libraries_are_found_again_after_an_import(monkeypatch):
    # As if the libraries had been looked for before any BLAS was loaded.
    monkeypatch.setattr(
        _blas, "_found", {"n_modules": len(sys.modules), "libraries": ()}
    )
    with threadpool_limits(2, user_api="blas"):
        with one_blas_thread():
            assert _blas_threads() == {2}
        monkeypatch.setitem(sys.modules, "a_module_loading_blas", types.ModuleType("m"))
        with one_blas_thread():
            assert _blas_threads() == {1}
        assert _blas_threads() == {2}
