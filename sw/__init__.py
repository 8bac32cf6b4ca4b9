"""spikecore: spiking neural networks with on-chip STDP on FPGAs, and their golden model.

>>> import spikecore
>>> net = spikecore.Network(n_inputs=64, n_neurons=32)
>>> with spikecore.connect("model://") as core:
...     core.load(net)
...     spikes = core.run(inputs)
"""

from .network import Network, Learning
from .backends import connect
from .core import Core, State

__all__ = ["Network", "Learning", "Core", "State", "connect", "units", "nir"]


def __getattr__(name):
    # spikecore.units and spikecore.nir load on first use (spikecore.nir needs the nir extra).
    if name in ("units", "nir"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'spikecore' has no attribute {name!r}")


__version__ = "0.1.0"
