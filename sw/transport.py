"""What carries the bytes between the driver and a device: the ``Transport`` interface.

The driver (``spikecore.driver``) is written once over this interface; a board's serial port,
a TCP socket to a virtual board, the in-process RTL simulation (``rtl://``) and the protocol
emulator differ only in the transport.
"""

import abc

__all__ = ["Transport"]


class Transport(abc.ABC):
    """A byte stream to a device and back.

    Members
    -------
    name : str
        Shown in messages (the URL it was opened with).
    """

    name = "transport"

    @abc.abstractmethod
    def write(self, data):
        """Send *data* (bytes) to the device."""

    @abc.abstractmethod
    def read(self, timeout):
        """Return the bytes that have arrived, waiting up to *timeout* seconds for the first;
        ``b""`` when none came. Raise ``ConnectionError`` if the other end is gone."""

    @abc.abstractmethod
    def close(self):
        """Release the transport (and whatever it owns, such as a process)."""

    def info(self):
        """Return a dict of details to add to ``Core.info()`` (none by default)."""
        return {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
