"""End to end on each board: the step rate a user gets, streamed and with on-device stimulus.

For each board of ``spikecore.boards`` a virtual board of its gateware (geometry, lanes, build
options: ``connect("sim://", board=...)``) runs the standard workload twice:

- **streamed**: every step's inputs sent in RUN frames, every step's spikes back;
- **generated**: the workload's ``rate_form`` — every input on its device generator, no
  streamed inputs, spike counts per call (calls of ``steps_per_call`` steps). A board built
  without generators or counts gets them from the driver (host-generated inputs streamed,
  spikes counted from the records), as a user would.

Both give cycles per step (the gateware's counters) and wire bytes per step each way (the
driver's link statistics, every frame of the calls included). The step rate a user gets is
min(compute bound = the bitstream's clock / cycles per step, link bound = baud / 10 / the
busier direction's bytes per step). Counts and spikes are checked against the model.
"""

import time

import numpy as np

import spikecore
from spikecore.boards import BOARDS
from spikecore.workload import standard_workload


def _geometry(board, n_inputs, n_neurons):
    """The standard workload's keyword overrides for a board of another geometry."""
    if (board.n_inputs, board.n_neurons) == (n_inputs, n_neurons):
        return {}
    return {"n_inputs": board.n_inputs, "n_neurons": board.n_neurons}


def _uart_baud(board):
    """The baud rate the gateware's divisor actually makes at the board's clock."""
    return board.clk_hz / round(board.clk_hz / board.baud)


def measure(core, net, steps, *, rate_form, steps_per_call=None, inputs=None):
    """Load *net*, run *steps* steps; return cycles/step, bytes/step each way, bit-exactness."""
    core.load(net)
    stats = core.link.stats
    sent0, recv0 = stats.wire_sent, stats.wire_received
    started = time.perf_counter()
    with spikecore.connect("model://") as model:
        model.load(net)
        if rate_form:
            same, spikes = True, 0
            for _ in range(steps // steps_per_call):
                got = core.run(steps=steps_per_call, record="counts")
                want = model.run(steps=steps_per_call, record="counts")
                same &= bool(np.array_equal(got, want))
                spikes += int(want.sum())
        else:
            want = model.run(inputs[:steps])
            same = bool(np.array_equal(core.run(inputs[:steps]), want))
            spikes = int(want.sum())
    seconds = time.perf_counter() - started
    sent, received = stats.wire_sent - sent0, stats.wire_received - recv0
    counters = core.counters()
    return {"cycles_per_step": counters["cycles"] / counters["steps"],
            "to_device_bytes_per_step": sent / steps,
            "from_device_bytes_per_step": received / steps,
            "virtual_board_steps_per_s": steps / seconds, "matches_model": same,
            "output_spikes_per_step": spikes / steps}


def bench_end_to_end(results, quick):
    """Fill ``results["end_to_end"]``: per board, streamed and generated."""
    net0, _, spec = standard_workload()
    form = spec["rate_form"]
    rows, measured = {}, {}
    for name, board in BOARDS.items():
        geometry = _geometry(board, net0.n_inputs, net0.n_neurons)
        steps = (form["steps_per_call"] * (1 if quick or board.lanes == 1 else 4))
        key = (board.n_inputs, board.n_neurons, board.lanes, repr(sorted(
            board.top_options.items())))
        if key not in measured:
            with spikecore.connect("sim://", board=name) as core:
                net, inputs, _ = standard_workload(**geometry)
                streamed = measure(core, net, steps, rate_form=False, inputs=inputs)
                net, _, _ = standard_workload(rate_form=True, **geometry)
                generated = measure(core, net, steps, rate_form=True,
                                    steps_per_call=form["steps_per_call"])
                features = core.features.names()
            measured[key] = {"streamed": streamed, "generated": generated,
                             "features": features, "steps": steps}
        m = measured[key]
        baud = _uart_baud(board)
        row = rows[name] = {"clock_mhz": round(board.clk_hz / 1e6, 2), "baud": round(baud),
                            "geometry": [board.n_inputs, board.n_neurons, board.lanes],
                            "workload": "standard" if not geometry else
                            f"standard recipe at {board.n_inputs} + {board.n_neurons}",
                            "features": m["features"], "steps": m["steps"]}
        for mode in ("streamed", "generated"):
            r = dict(m[mode])
            compute = board.clk_hz / r["cycles_per_step"]
            link = baud / 10 / max(r["to_device_bytes_per_step"],
                                   r["from_device_bytes_per_step"])
            r.update({"compute_steps_per_s": round(compute), "link_steps_per_s": round(link),
                      "steps_per_s": round(min(compute, link)),
                      "bound": "compute" if compute <= link else "link"})
            for k in ("cycles_per_step", "to_device_bytes_per_step", "output_spikes_per_step",
                      "from_device_bytes_per_step", "virtual_board_steps_per_s"):
                r[k] = round(r[k], 2)
            row[mode] = r
            print(f"{name} {mode}: {r['cycles_per_step']:,.0f} cycles/step, "
                  f"{r['to_device_bytes_per_step']:.2f} / {r['from_device_bytes_per_step']:.2f} "
                  f"B/step -> {r['steps_per_s']:,} steps/s ({r['bound']} bound), "
                  f"bit-exact: {r['matches_model']}")
    results["end_to_end"] = {
        "value": rows, "unit": "steps/s a user gets",
        "what": "min(clock / cycles per step, baud / 10 / bytes per step of the busier "
                "direction), both measured on a virtual board of each board's gateware",
        "rate_form": form}


def _padded(net, n_inputs, n_neurons):
    """Return *net* on a core of *n_inputs* + *n_neurons* (unused inputs and neurons silent and
    unconnected), or None if it does not fit."""
    if net.n_inputs > n_inputs or net.n_neurons > n_neurons:
        return None
    if (net.n_inputs, net.n_neurons) == (n_inputs, n_neurons):
        return net.copy()
    big = spikecore.Network(n_inputs, n_neurons, seed=None)
    n_in, n = net.n_inputs, net.n_neurons
    w = np.zeros((n_inputs + n_neurons, n_neurons), np.int64)
    w[:n_in, :n] = net.weights[:n_in]
    w[n_inputs:n_inputs + n, :n] = net.weights[n_in:]
    big.weights = w
    for name in ("vth", "bias", "du", "dv", "t_ref", "theta"):
        values = np.full(n_neurons, spikecore.spec.STATE_MAX if name == "vth" else 0)
        if name in ("du", "dv"):
            values[:] = 4096
        values[:n] = getattr(net, name)
        setattr(big, name, values)
    big.w_exp, big.w_exp_rec = net.w_exp, net.w_exp_rec
    big.learning = spikecore.Learning(**net.learning.as_dict())
    src = np.zeros(n_inputs + n_neurons, bool)
    src[:n_in] = net.plastic_src[:n_in]
    src[n_inputs:n_inputs + n] = net.plastic_src[n_in:]
    big.plastic_src = src
    dst = np.zeros(n_neurons, bool)
    dst[:n] = net.plastic_dst
    big.plastic_dst = dst
    return big


def bench_digits_on_boards(results, quick):
    """Fill ``results["digits_on_boards"]``: the digits task's images/s on each board, from
    cycles and link bytes per image measured on a virtual board of its gateware."""
    from spikecore.batch import FastModelCore
    from spikecore.digits import DEFAULT_CONFIG, _rates, digits_network, load_split
    c = DEFAULT_CONFIG
    X_tr, _, X_te, _ = load_split(0)
    # The inference network is the one trained on chip (model://, seed 0): its activity.
    trained = digits_network(seed=0)
    with FastModelCore() as core:
        core.load(trained)
        core.set_learning(enabled=True)
        core.present(_rates(X_tr, c["rate"]), c["train_steps"])
        trained.weights = core.read_weights()
        trained.theta = core.read_state().theta
    n_images = 10 if quick else 40
    rows = {}
    for name, board in BOARDS.items():
        rows[name] = row = {"geometry": [board.n_inputs, board.n_neurons, board.lanes],
                            "clock_mhz": round(board.clk_hz / 1e6, 2)}
        phases = {"training": (digits_network(seed=0), X_tr, c["train_steps"], True),
                  "inference": (trained, X_te, c["test_steps"], False)}
        if _padded(trained, board.n_inputs, board.n_neurons) is None:
            row["error"] = (f"the digits network (64 + {trained.n_neurons}) does not fit "
                            f"{board.n_inputs} + {board.n_neurons}")
            continue
        with spikecore.connect("sim://", board=name) as core:
            missing = trained.features() & ~core.features
            if missing:
                row["error"] = (f"the digits network needs {', '.join(missing.names())}, "
                                f"which this build lacks")
                print(f"digits on {name}: {row['error']}")
                continue
            for phase, (net, images, steps, learning) in phases.items():
                net = _padded(net, board.n_inputs, board.n_neurons)
                net.learning.enabled = learning
                core.load(net)
                rates = np.zeros((n_images, board.n_inputs), np.int64)
                rates[:, :64] = _rates(images[:n_images], c["rate"])
                stats = core.link.stats
                sent0, recv0 = stats.wire_sent, stats.wire_received
                core.present(rates, steps)
                sent, received = stats.wire_sent - sent0, stats.wire_received - recv0
                cycles = core.counters()["cycles"] / n_images
                compute = board.clk_hz / cycles
                link = _uart_baud(board) / 10 / (max(sent, received) / n_images)
                row[phase] = {"cycles_per_image": round(cycles), "steps_per_image": steps,
                              "bytes_per_image_to_device": round(sent / n_images, 1),
                              "bytes_per_image_from_device": round(received / n_images, 1),
                              "compute_images_per_s": round(compute),
                              "link_images_per_s": round(link),
                              "images_per_s": round(min(compute, link)),
                              "bound": "compute" if compute <= link else "link"}
                print(f"digits {phase} on {name}: {row[phase]['images_per_s']:,} images/s "
                      f"({row[phase]['bound']} bound)")
    results["digits_on_boards"] = {
        "value": rows, "unit": "images/s",
        "what": "the digits task presented with core.present (rates on the device's "
                "generators, counts back) on a virtual board of each board's gateware, the "
                "network padded to the board's geometry; images/s = min(clock / cycles per "
                "image, baud / 10 / bytes per image)", "images": n_images}
