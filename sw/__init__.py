"""spikecore: spiking neural networks with on-chip STDP on FPGAs, and their golden model.

>>> import spikecore
>>> net = spikecore.Network(n_inputs=64, n_neurons=32)
>>> with spikecore.connect("model://") as core:
...     core.load(net)
...     spikes = core.run(inputs)
"""

from .network import Network, Learning
from .core import Core, State, connect

__all__ = ["Network", "Learning", "Core", "State", "connect"]
__version__ = "0.1.0"
