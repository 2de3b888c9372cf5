"""The Examples sections of the public docstrings run and print what they show."""
import doctest
import importlib

import pytest

MODULES = ["fastloss", "fastloss._core", "fastloss._elementwise_api",
           "fastloss._multiclass_api", "fastloss._linear", "fastloss.estimators",
           "fastloss.datasets"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no doctest examples"
    assert result.failed == 0
