"""Read a class out of spike counts: label neurons, predict, score.

The usual readout of competitive STDP networks (Diehl & Cook 2015): present labelled data with
learning off, give each neuron the class it responded to most (:meth:`Readout.fit`), then
predict a new presentation's class from which neurons fired (:meth:`Readout.predict`).

>>> readout = Readout(n_classes=10).fit(train_counts, train_labels)
>>> predicted = readout.predict(test_counts)
>>> accuracy(predicted, test_labels), confusion_matrix(predicted, test_labels, 10)
"""

import numpy as np

__all__ = ["spike_counts", "Readout", "accuracy", "confusion_matrix"]


def spike_counts(spikes):
    """Return spike counts per presentation and neuron from spikes ``(..., steps, n)``.

    ``(steps, n)`` gives ``(n,)``; a batch ``(batch, steps, n)`` gives ``(batch, n)``.
    """
    spikes = np.asarray(spikes)
    if spikes.ndim < 2:
        raise ValueError(f"spikes must have shape (..., steps, n_neurons), not {spikes.shape}")
    return spikes.sum(axis=-2, dtype=np.int64)


def _labels(name, labels, n_classes, length):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-d array of integer class labels, not "
                         f"{labels.dtype} of shape {labels.shape}")
    if len(labels) != length:
        raise ValueError(f"{name} has {len(labels)} entries for {length} presentations")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)][0]
        raise ValueError(f"{name} holds class {bad}, outside [0, {n_classes})")
    return labels.astype(np.int64)


def _counts(counts, n_neurons=None):
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.dtype.kind not in "biuf":
        raise ValueError(f"counts must have shape (presentations, n_neurons), not "
                         f"{counts.shape}")
    if n_neurons is not None and counts.shape[1] != n_neurons:
        raise ValueError(f"counts has {counts.shape[1]} neurons, the readout was fitted "
                         f"on {n_neurons}")
    return counts.astype(np.float64)


class Readout:
    """Neuron labels from responses to labelled data, and class predictions from counts.

    Parameters
    ----------
    n_classes : int
    method : "vote" or "weighted"
        ``"vote"`` (Diehl & Cook): a presentation's score for class c is the mean count of
        the neurons labelled c. ``"weighted"``: every neuron votes for every class in
        proportion to its share of responses to that class, ``score = counts · P`` where
        ``P[i, c]`` is neuron i's mean response to class c divided by its sum over classes.
        Ties go to the lowest class; a presentation without spikes is predicted as class 0
        (``"vote"``) or by the neurons' zero scores (class 0).

    Members
    -------
    responses : float array (n_classes, n_neurons)
        Mean count of each neuron per class (after :meth:`fit`).
    labels : int array (n_neurons,)
        Each neuron's class: the argmax of its responses; −1 for a neuron that never fired.
    """

    METHODS = ("vote", "weighted")

    def __init__(self, n_classes, method="vote"):
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
                or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, not {n_classes!r}")
        if method not in self.METHODS:
            raise ValueError(f"method must be one of {', '.join(self.METHODS)}, not "
                             f"{method!r}")
        self.n_classes, self.method = int(n_classes), method
        self.responses = self.labels = None

    def fit(self, counts, labels):
        """Label each neuron by its mean count per class over (counts, labels); return self.

        *counts* is (presentations, n_neurons) (:func:`spike_counts`), *labels* the class of
        each presentation. Every class must occur.
        """
        counts = _counts(counts)
        labels = _labels("labels", labels, self.n_classes, len(counts))
        seen = np.bincount(labels, minlength=self.n_classes)
        if np.any(seen == 0):
            raise ValueError(f"class {int(np.flatnonzero(seen == 0)[0])} does not occur in "
                             f"labels")
        sums = np.zeros((self.n_classes, counts.shape[1]))
        np.add.at(sums, labels, counts)
        self.responses = sums / seen[:, None]
        self.labels = np.where(self.responses.max(axis=0) > 0,
                               self.responses.argmax(axis=0), -1)
        return self

    def scores(self, counts):
        """Return the class scores (presentations, n_classes) of *counts*."""
        if self.responses is None:
            raise RuntimeError("the readout is not fitted; call fit(counts, labels) first")
        counts = _counts(counts, self.responses.shape[1])
        if self.method == "vote":
            member = self.labels[None, :] == np.arange(self.n_classes)[:, None]
            size = member.sum(axis=1)
            return (counts @ member.T) / np.maximum(size, 1)
        total = self.responses.sum(axis=0)
        share = np.divide(self.responses, total, out=np.zeros_like(self.responses),
                          where=total > 0)
        return counts @ share.T

    def predict(self, counts):
        """Return the predicted class (int array) of each row of *counts*."""
        return self.scores(counts).argmax(axis=1)


def accuracy(predicted, labels):
    """Return the fraction of *predicted* equal to *labels* (both 1-d, same length)."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape or predicted.ndim != 1 or len(labels) == 0:
        raise ValueError(f"predicted and labels must be 1-d of one nonzero length, not "
                         f"{predicted.shape} and {labels.shape}")
    return float(np.mean(predicted == labels))


def confusion_matrix(predicted, labels, n_classes):
    """Return the int confusion matrix (n_classes, n_classes): ``[true, predicted]`` counts."""
    predicted = _labels("predicted", predicted, n_classes, len(np.asarray(predicted)))
    labels = _labels("labels", labels, n_classes, len(predicted))
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix
