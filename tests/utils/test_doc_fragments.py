import inspect

import pytest

from skprune.utils._docstrings import fill_doc


def test_fill_doc_puts_a_fragment_at_the_indentation_of_its_line():
    @fill_doc(data="x : int\n    The value.\n")
    def method():
        """Summary.

        Parameters
        ----------
        {data}
        """

    assert inspect.getdoc(method) == (
        "Summary.\n\nParameters\n----------\nx : int\n    The value."
    )


def test_fill_doc_leaves_braces_inside_text_alone():
    @fill_doc(data="x : {0, 1}")
    def function():
        """Take {"a", "b"}.

        {data}
        """

    assert inspect.getdoc(function) == 'Take {"a", "b"}.\n\nx : {0, 1}'


def test_fill_doc_refuses_a_fragment_it_was_not_given():
    def function():
        """{missing}"""

    with pytest.raises(KeyError, match="missing"):
        fill_doc(data="")(function)
