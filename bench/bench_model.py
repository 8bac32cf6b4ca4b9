"""Golden model speed on the standard workload (and a sweep of network sizes)."""

import time

from spikecore.model import Model
from spikecore.workload import standard_workload


def model_steps_per_s(repeats=5, **variant):
    """Return the median steps/s of the golden model on the standard workload (after warm-up)."""
    net, inputs, _ = standard_workload(**variant)
    Model(net).run(inputs[:100])                       # warm-up
    rates = []
    for _ in range(repeats):
        model = Model(net)
        start = time.perf_counter()
        model.run(inputs)
        rates.append(len(inputs) / (time.perf_counter() - start))
    rates.sort()
    return rates[len(rates) // 2]


if __name__ == "__main__":
    print(f"golden model, standard workload: {model_steps_per_s():,.0f} steps/s")
