"""The examples in analysis/ docstrings run and give what they show."""

import doctest
import importlib
import pkgutil

import pytest

import analysis

MODULES = [m.name for m in pkgutil.iter_modules(analysis.__path__, "analysis.")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
