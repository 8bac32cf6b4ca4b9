"""spikecore.readout: neuron labels, predictions, accuracy and confusion, by hand."""

import numpy as np
import pytest

from spikecore.readout import Readout, accuracy, confusion_matrix, spike_counts

# Four neurons, three classes. Responses (mean count per class):
#   class 0 (rows 0, 1): neuron 0 = (4 + 2) / 2 = 3, neuron 1 = 1, neurons 2, 3 = 0
#   class 1 (row 2):     neuron 1 = 5, neuron 2 = 1
#   class 2 (row 3):     neuron 2 = 2
# Labels: neuron 0 -> 0, neuron 1 -> 1 (5 > 1), neuron 2 -> 2 (2 > 1), neuron 3 never fired.
COUNTS = np.array([[4, 1, 0, 0],
                   [2, 1, 0, 0],
                   [0, 5, 1, 0],
                   [0, 0, 2, 0]])
LABELS = np.array([0, 0, 1, 2])


def test_spike_counts_sum_over_steps():
    spikes = np.zeros((2, 3, 4), dtype=bool)
    spikes[0, :, 1] = True
    spikes[1, 2, 3] = True
    assert spike_counts(spikes).tolist() == [[0, 3, 0, 0], [0, 0, 0, 1]]
    assert spike_counts(spikes[0]).tolist() == [0, 3, 0, 0]


def test_fit_labels_each_neuron_by_its_strongest_class():
    r = Readout(3).fit(COUNTS, LABELS)
    assert r.responses.tolist() == [[3, 1, 0, 0], [0, 5, 1, 0], [0, 0, 2, 0]]
    assert r.labels.tolist() == [0, 1, 2, -1]


def test_vote_predicts_the_class_with_the_highest_mean_count():
    r = Readout(3).fit(COUNTS, LABELS)
    # [1, 0, 3, 0]: class scores (mean over each class's neurons) 1, 0, 3 -> class 2.
    # [2, 2, 0, 0]: 2, 2, 0 -> a tie, the lowest class wins -> 0.
    # no spikes -> 0.
    assert r.predict([[1, 0, 3, 0], [2, 2, 0, 0], [0, 0, 0, 0]]).tolist() == [2, 0, 0]


def test_weighted_votes_by_each_neurons_share():
    r = Readout(3, "weighted").fit(COUNTS, LABELS)
    # Shares: neuron 0 (3, 0, 0)/3 = (1, 0, 0); neuron 1 (1, 5, 0)/6; neuron 2 (0, 1, 2)/3.
    # Counts [0, 6, 3, 0]: class 0 = 6/6 = 1, class 1 = 5 + 1 = 6, class 2 = 2 -> class 1.
    assert np.allclose(r.scores([[0, 6, 3, 0]]), [[1, 6, 2]])
    assert r.predict([[0, 6, 3, 0]]).tolist() == [1]


def test_accuracy_and_confusion():
    predicted, true = np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])
    assert accuracy(predicted, true) == 0.75
    assert confusion_matrix(predicted, true, 3).tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


@pytest.mark.parametrize("call, error, message", [
    (lambda: Readout(1), ValueError, "n_classes must be an integer >= 2"),
    (lambda: Readout(3, "max"), ValueError, "method must be one of vote, weighted"),
    (lambda: Readout(3).fit(COUNTS, [0, 0, 1, 3]), ValueError, r"holds class 3, outside"),
    (lambda: Readout(3).fit(COUNTS, [0, 0, 1]), ValueError, "has 3 entries for 4"),
    (lambda: Readout(3).fit(COUNTS, [0, 0, 1, 1]), ValueError, "class 2 does not occur"),
    (lambda: Readout(3).predict(COUNTS), RuntimeError, "not fitted"),
    (lambda: Readout(3).fit(COUNTS, LABELS).predict([[1, 2]]), ValueError,
     "counts has 2 neurons, the readout was fitted on 4"),
    (lambda: accuracy([1, 2], [1]), ValueError, "must be 1-d of one nonzero length"),
])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
