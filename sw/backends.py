"""``spikecore.connect(url)``: open a core by URL, one opener per scheme.

==================  =========================================================================
``model://``        the golden model, in this process (``spikecore.core.ModelCore``)
``sim://``          the Verilator virtual board, built on first use per geometry
                    (``spikecore.sim.open_sim``)
``rtl://``          the Top gateware in Amaranth's simulator, in this process, no build step
                    (``spikecore.sim.rtl.open_rtl``; slow, for small geometries)
``socket://H:P``    a board or a virtual board behind TCP (``spikecore.driver.open_device``)
anything else       a pyserial URL or a serial device path: a board
==================  =========================================================================
"""

__all__ = ["connect", "SCHEMES"]


def _open_model(**options):
    if options:
        raise ValueError(f"model:// takes no options, not {sorted(options)}")
    from .core import ModelCore
    return ModelCore()


def _open_sim(**options):
    from .sim import open_sim
    return open_sim(**options)


def _open_rtl(**options):
    from .sim.rtl import open_rtl
    return open_rtl(**options)


#: The opener of each URL scheme that is not a link to a device.
SCHEMES = {"model": _open_model, "sim": _open_sim, "rtl": _open_rtl}


def connect(url="model://", **options):
    """Open a core (a ``spikecore.Core``) by *url*; see the table above.

    Parameters
    ----------
    url : str
        ``"model://"``; ``"sim://"`` (options ``n_inputs``, ``n_neurons``, ``lanes``, or
        ``board`` for the gateware of that board's bitstream); ``"rtl://"`` (options
        ``n_inputs``, ``n_neurons``, ``lanes``, ``top_options``); ``"socket://host:port"``, any
        other pyserial URL, or a serial device path (a board, or a virtual board served by
        ``spikecore sim``).
    **options
        Passed to the backend (for links: ``baudrate``, ``timeout``, ``retries``, ``progress``).
    """
    if not isinstance(url, str) or not url:
        raise ValueError(f"connect() takes a URL string, not {url!r}")
    scheme = url.partition(":")[0]
    if scheme in SCHEMES:
        return SCHEMES[scheme](**options)
    from .driver import open_device
    return open_device(url, **options)
