import sys
from pathlib import Path

# tests/ holds shared helpers (reference.py, randnet.py, hdl.py) imported by test modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))
