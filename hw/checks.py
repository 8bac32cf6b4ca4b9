"""The eager argument checks that the gateware's constructors share (and their messages)."""

from ..spec import Feature

__all__ = ["check_positive", "check_lanes", "check_features"]


def check_positive(**values):
    """Raise ``TypeError`` or ``ValueError`` unless each of *values* is a positive integer."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be a positive integer, not {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value}")


def check_lanes(lanes, **multiples):
    """Raise ``ValueError`` unless *lanes* is a power of two dividing each of *multiples*."""
    check_positive(lanes=lanes)
    if lanes & (lanes - 1):
        raise ValueError(f"lanes must be 1 or a power of two, not {lanes}")
    for name, value in multiples.items():
        check_positive(**{name: value})
        if value % lanes:
            raise ValueError(f"{name} ({value}) must be a multiple of lanes ({lanes})")


def check_features(features):
    """Return *features* if it is a ``spikecore.spec.Feature``; raise ``TypeError`` if not."""
    if not isinstance(features, Feature):
        raise TypeError(f"features must be a spikecore.spec.Feature, not {features!r}")
    return features
