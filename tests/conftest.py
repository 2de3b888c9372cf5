"""Shared pytest configuration: make the helper modules in tests/ importable."""
import os
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)


@pytest.fixture(scope="session")
def memmap_dir(tmp_path_factory):
    """A session-wide directory for the hostile generator's memmap files."""
    return tmp_path_factory.mktemp("hostile-memmap")
