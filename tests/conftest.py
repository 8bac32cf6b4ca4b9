import sys
from pathlib import Path

import pytest

# tests/ holds shared helpers (reference.py, randnet.py, hdl.py) imported by test modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` the rtl:// cases of tests marked ``slow_on_rtl`` (before ``-m`` selects):
    rtl:// simulates a few thousand cycles a second, and sim:// runs the same gateware."""
    for item in items:
        if item.get_closest_marker("slow_on_rtl") and "[rtl" in item.nodeid:
            item.add_marker(pytest.mark.slow)
