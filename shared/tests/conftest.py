import os
import sys

# test helpers of this folder (probe.py) import by name under --import-mode=importlib
sys.path.insert(0, os.path.dirname(__file__))
