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

__all__ = ["Network", "Learning", "Core", "State", "connect", "units", "nir", "encode",
           "topology", "readout", "batch", "digits", "sweep"]

#: Submodules that load on first use (spikecore.nir needs the nir extra; spikecore.digits
#: runs with scikit-learn and spikecore.sweep with dask.distributed, the experiments extra).
_LAZY = ("units", "nir", "encode", "topology", "readout", "batch", "digits", "sweep")


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'spikecore' has no attribute {name!r}")


__version__ = "0.1.0"
