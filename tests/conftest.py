import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

HAVE_REFERENCE = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None


def pytest_collection_modifyitems(config, items):
    if HAVE_REFERENCE:
        return
    skip = pytest.mark.skip(reason="needs the test extra (torch==2.13.0, transformers==5.24.0)")
    for item in items:
        if "reference" in item.keywords:
            item.add_marker(skip)
