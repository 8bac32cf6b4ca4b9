"""Turn bench/results/latest.json into docs/performance.md and its plots."""

from pathlib import Path


def _row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def write_report(out, docs):
    r = out["results"]
    m = out["machine"]
    lines = ["# Performance", "",
             f"Measured by `make bench` on {m['date']} ({m['cpu']}, {m['cores']} cores, "
             f"Python {m['python']}, commit {m['commit']}). Every figure uses the standard "
             "workload (shared/workloads/standard.json: 256 inputs at 10 % per step, 256 "
             "neurons all-to-all, trace STDP on) unless it says otherwise. Raw numbers: "
             "bench/results/latest.json.", ""]
    lines += ["## Golden model vs Brian2", "",
              _row(["simulator", "steps/s", "model speed-up"]), _row(["---"] * 3)]
    if "model_standard" in r:
        lines.append(_row(["spikecore golden model (numpy)", f"{r['model_standard']['value']:,}",
                           "1"]))
    for target in ("numpy", "cython"):
        key = f"brian2_{target}_standard"
        if key in r:
            lines.append(_row([f"Brian2 {m['versions'].get('brian2')} ({target} target)",
                               f"{r[key]['value']:,}",
                               f"{r[f'model_vs_brian2_{target}']['value']}x"]))
    if "brian2_numpy_standard" not in r:
        lines.append("")
        lines.append("Brian2 was not installed for this run (`pip install -e '.[bench]'`).")
    lines.append("")
    if "model_scaling" in r:
        rates = r["model_scaling"]["value"]
        lines += ["## Model scaling", "", _row(["neurons (256 inputs)", "steps/s"]),
                  _row(["---"] * 2)]
        lines += [_row([n, f"{v:,}"]) for n, v in rates.items()]
        lines += ["", "![model scaling](model_scaling.png)", ""]
        _plot_scaling(rates, docs / "model_scaling.png")
    for section in out.get("sections_md", []):
        lines += section
    (docs / "performance.md").write_text("\n".join(lines) + "\n")


def _plot_scaling(rates, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ns = [int(n) for n in rates]
    ax.loglog(ns, list(rates.values()), "o-")
    ax.set_xlabel("neurons (256 inputs, 10 % input activity, STDP on)")
    ax.set_ylabel("golden model steps/s")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
