"""Parameter sweeps on ``dask.distributed``: an experiment over a grid of settings × seeds.

>>> from spikecore.sweep import sweep, write_csv, plot_sweep
>>> rows = sweep({"th_imp": [100, 168]}, seeds=[0, 1], config={"n_train": 200})
>>> write_csv(rows, "sweep.csv"); plot_sweep(rows, "sweep.png")

Every point of the Cartesian product of the grid's values, with every seed, is one Dask task
that runs the experiment (``spikecore.digits.run_digits`` for ``"digits"``) on its own backend:

==========================  ==================================================================
``url="model://"``          each task opens its own golden model (the default)
``url="sim://"``            each worker builds (cached on disk) and starts one virtual board the
                            first time it needs one, and reuses it for its later tasks (one per
                            geometry; ``Core.load`` sets the whole state, so runs do not mix)
``url=[URL, URL, ...]``     boards: one link URL per worker (``"/dev/ttyUSB0"``,
                            ``"socket://host:port"``, …), each worker runs its tasks on its own
                            board, one at a time. A local cluster gets one worker per URL; on an
                            existing cluster the first ``len(url)`` workers (by address) get them
                            and the tasks run only there
==========================  ==================================================================

The cluster is a ``LocalCluster`` of *n_workers* processes (one thread each), started and
closed by :func:`sweep`, or an existing one: ``scheduler="tcp://host:8786"`` (its workers
need spikecore and the experiment's extra installed) or a ``distributed.Client``.

A task that fails does not stop the sweep: its row holds the exception (``error``), the other
rows their results. The result is a table, a list of dicts in grid order: the swept settings,
``seed``, the experiment's columns (for digits: ``accuracy``, the accuracy of each readout,
``eval_set``, ``n_train``, ``n_eval``), then ``backend``, ``url``, ``worker``, ``seconds`` and
``error`` (None if the task succeeded). :func:`write_csv`, :func:`write_json` and
:func:`plot_sweep` write it; :func:`summary` aggregates it over seeds.
"""

import contextlib
import csv
import itertools
import json
import logging
import sys
import threading
import time
from collections.abc import Mapping

import numpy as np

__all__ = ["EXPERIMENTS", "sweep", "summary", "write_csv", "write_json", "plot_sweep"]


class _Digits:
    """The digits experiment (``spikecore.digits``) as a sweep sees it."""

    #: The experiment's columns of a row, after the swept settings and the seed.
    columns = ("accuracy", "accuracy_vote", "accuracy_weighted", "eval_set", "n_train",
               "n_eval")

    def settings(self):
        from .digits import DEFAULT_CONFIG
        return dict(DEFAULT_CONFIG)

    def geometry(self, config):
        from .digits import N_PIXELS, full_config
        return N_PIXELS, full_config(config)["n_neurons"]

    def open(self, url, config):
        from .digits import open_core
        return open_core(url, self.geometry(config)[1])

    def run(self, config, seed, *, url, core):
        from .digits import run_digits
        return run_digits(config, seed, url=url, core=core)

    def row(self, record):
        by_readout = record["epochs"][-1].get("accuracy_by_readout", {})
        return {"accuracy": record["accuracy"],
                "accuracy_vote": by_readout.get("vote"),
                "accuracy_weighted": by_readout.get("weighted"),
                "eval_set": record["eval_set"], "n_train": record["n_train"],
                "n_eval": record["n_eval"], "backend": record["backend"]}


#: The experiments a sweep can run, by name.
EXPERIMENTS = {"digits": _Digits()}

#: The columns every row ends with.
TASK_COLUMNS = ("backend", "url", "worker", "seconds", "error")

# Per worker: the board URL it was given, and the cores it keeps open across tasks, keyed by
# the worker's address (so that workers sharing a process, in a threaded cluster, stay apart).
_BOARD_URL = {}
_CORES = {}                  # (worker, url, geometry) -> [lock, core]
_CORES_LOCK = threading.Lock()


def _experiment(name):
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; the experiments are "
                         f"{', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def _is_model(url):
    return url.startswith("model:")


def _is_link(url):
    """Whether *url* names a device (a board or a served virtual board), one per worker."""
    return url.partition(":")[0] not in ("model", "sim", "rtl")


def _worker_address():
    from distributed import get_worker
    try:
        return get_worker().address
    except ValueError:                 # not in a worker (a function called directly)
        return None


@contextlib.contextmanager
def _worker_core(worker, url, exp, config):
    """Yield this worker's open core for *url* and the experiment's geometry, opening it on
    first use; hold it for one task at a time. A task that fails closes it (it may be in any
    state), and the next task opens a new one."""
    key = (worker, url, exp.geometry(config))
    with _CORES_LOCK:
        entry = _CORES.setdefault(key, [threading.Lock(), None])
    with entry[0]:
        if entry[1] is None:
            entry[1] = exp.open(url, config)
        try:
            yield entry[1]
        except BaseException:
            core, entry[1] = entry[1], None
            with contextlib.suppress(Exception):
                core.close()
            raise


def _task(experiment, config, seed, url):
    """Run one point of a sweep (on a worker); return its result columns, never raise."""
    start = time.perf_counter()
    worker = _worker_address()
    result = {"url": url, "worker": worker}
    try:
        if url is None:
            url = result["url"] = _BOARD_URL[worker]
        exp = _experiment(experiment)
        if _is_model(url):
            record = exp.run(config, seed, url=url, core=None)
        else:
            with _worker_core(worker, url, exp, config) as core:
                record = exp.run(config, seed, url=url, core=core)
        result.update(exp.row(record), error=None)
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["seconds"] = time.perf_counter() - start
    return result


def _attach(url, dask_worker=None):
    """Give this worker the board at *url* (run on the worker by ``Client.run``)."""
    _BOARD_URL[dask_worker.address] = url


def _release(dask_worker=None):
    """Close the cores this worker opened for the sweep and forget its board."""
    address = dask_worker.address
    _BOARD_URL.pop(address, None)
    with _CORES_LOCK:
        keys = [key for key in _CORES if key[0] == address]
        entries = [_CORES.pop(key) for key in keys]
    for lock, core in entries:
        with lock:
            if core is not None:
                with contextlib.suppress(Exception):
                    core.close()


def _plain(value):
    """Return *value* with numpy scalars and arrays as Python ones (JSON-ready)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_grid(grid, exp, name, config):
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(f"grid must be a non-empty dict of setting -> list of values, not "
                         f"{grid!r}")
    allowed = exp.settings()
    config = dict(config or {})
    checked = {}
    for where, keys in (("grid", grid), ("fixed settings", config)):
        for key in keys:
            if key == "seed":
                raise ValueError("the seed is not a setting: give the seeds with seeds= "
                                 "(spikecore sweep --seeds)")
            if key not in allowed:
                raise ValueError(f"unknown {name} setting {key!r} in the {where}; the "
                                 f"settings are {', '.join(allowed)}")
    for key, values in grid.items():
        if key in config:
            raise ValueError(f"{key} is both swept (in the grid) and fixed (in config)")
        if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
            raise TypeError(f"the grid's {key} must be a list of values, not {values!r}")
        values = [_plain(v) for v in values]
        if not values:
            raise ValueError(f"the grid gives {key} no values")
        checked[key] = values
    return checked, config


def _check_seeds(seeds):
    seeds = [seeds] if isinstance(seeds, (int, np.integer)) else list(seeds)
    if not seeds:
        raise ValueError("a sweep needs at least one seed")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seeds must be non-negative integers, not {seed!r}")
    return [int(seed) for seed in seeds]


def _check_urls(url):
    urls = [url] if isinstance(url, str) else list(url)
    if not urls or not all(isinstance(u, str) and u for u in urls):
        raise ValueError(f"url must be a URL or a list of board URLs, not {url!r}")
    if len(urls) > 1 and not all(_is_link(u) for u in urls):
        raise ValueError(f"a list of URLs names one board per worker; model://, sim:// and "
                         f"rtl:// are opened by every worker itself: give one, not {urls}")
    if len(set(urls)) < len(urls):
        raise ValueError(f"each worker needs its own board, but the URLs repeat: {urls}")
    return urls


@contextlib.contextmanager
def _client(scheduler, n_workers):
    """Yield a ``distributed.Client``: of a new LocalCluster, or of *scheduler*."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise RuntimeError("sweeps need dask.distributed: pip install "
                           "'spikecore[experiments]'") from None
    if scheduler is not None and not isinstance(scheduler, str):
        yield scheduler                # a Client the caller owns
        return
    if scheduler is None:
        if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"n_workers must be a positive integer, not {n_workers!r}")
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    with client:
        yield client


def sweep(grid, seeds=(0,), *, config=None, experiment="digits", url="model://",
          scheduler=None, n_workers=2, progress=True):
    """Run *experiment* over every point of *grid* × *seeds* on a Dask cluster; return the
    table of results (a list of dicts, in grid order, seeds innermost).

    Parameters
    ----------
    grid : dict
        Setting name -> list of values (``{"th_imp": [100, 168], "rate": [0.5, 0.75]}``); the
        names are the experiment's settings (``spikecore.digits.DEFAULT_CONFIG``).
    seeds : sequence of int or int
        The seeds every grid point runs with.
    config : dict or None
        Settings fixed for every task (``{"n_train": 200}``); not also in *grid*.
    experiment : str
        A name in :data:`EXPERIMENTS`.
    url : str or list of str
        Where each task runs: ``"model://"`` (each task its own golden model), ``"sim://"``
        (one virtual board per worker, reused), or a list of board URLs, one per worker (the
        module's docstring says how they are shared out).
    scheduler : str, distributed.Client or None
        None starts a ``LocalCluster`` of *n_workers* processes for the sweep and closes it
        after; an address (``"tcp://host:8786"``) or a Client uses an existing cluster.
    n_workers : int
        Workers of the local cluster (with board URLs: one per URL instead).
    progress : bool
        Show a progress bar (tqdm, on stderr).

    Returns
    -------
    list of dict
        One row per task: the swept settings, ``seed``, the experiment's columns (digits:
        ``accuracy``, ``accuracy_vote``, ``accuracy_weighted``, ``eval_set``, ``n_train``,
        ``n_eval``), ``backend``, ``url``, ``worker``, ``seconds``, and ``error``: None, or the
        exception of a task that failed (its result columns are then None).
    """
    exp = _experiment(experiment)
    grid, config = _check_grid(grid, exp, experiment, config)
    seeds = _check_seeds(seeds)
    urls = _check_urls(url)
    boards = _is_link(urls[0])
    if boards and scheduler is None:
        n_workers = len(urls)
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    tasks = [(point, seed) for point in points for seed in seeds]
    columns = (*exp.columns, *TASK_COLUMNS)
    rows = [{**point, "seed": seed, **dict.fromkeys(columns)} for point, seed in tasks]

    from distributed import as_completed
    from tqdm import tqdm

    with _client(scheduler, n_workers) as client:
        options = {}
        if boards:
            workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
            if len(workers) < len(urls):
                raise ValueError(f"{len(urls)} board URLs but the cluster has only "
                                 f"{len(workers)} worker(s): one board per worker")
            workers = workers[:len(urls)]
            for worker, board in zip(workers, urls):
                client.run(_attach, board, workers=[worker])
            options = {"workers": workers, "allow_other_workers": False}
        try:
            futures = {client.submit(_task, experiment, {**config, **point}, seed,
                                     None if boards else urls[0], pure=False, **options): k
                       for k, (point, seed) in enumerate(tasks)}
            failed = 0
            bar = tqdm(as_completed(futures), total=len(futures), disable=not progress,
                       desc=f"sweep {experiment}", unit="task", file=sys.stderr)
            for future in bar:
                k = futures[future]
                try:
                    result = future.result()
                except Exception as exc:         # the task never ran to the end (a lost worker)
                    result = {"error": f"{type(exc).__name__}: {exc}"}
                failed += result.get("error") is not None
                rows[k].update({key: result.get(key) for key in columns})
                if failed:
                    bar.set_postfix(failed=failed)
            bar.close()
        finally:
            if not _is_model(urls[0]):
                client.run(_release, on_error="ignore")
    return rows


def _params(rows):
    """The swept settings: the columns before ``seed``."""
    keys = list(rows[0]) if rows else []
    return keys[:keys.index("seed")] if "seed" in keys else []


def _key(value):
    """A hashable stand-in for a setting's value (lists are settings too)."""
    return json.dumps(value, sort_keys=True)


def summary(rows):
    """Aggregate *rows* over seeds: one dict per grid point with its settings, ``n`` (tasks
    that succeeded), ``failed``, and the ``mean``, ``min`` and ``max`` accuracy (None if
    none succeeded)."""
    params = _params(rows)
    groups = {}
    for row in rows:
        point = {key: row[key] for key in params}
        group = groups.setdefault(_key(point), {**point, "values": [], "failed": 0})
        if row.get("error") is None and row.get("accuracy") is not None:
            group["values"].append(row["accuracy"])
        else:
            group["failed"] += 1
    out = []
    for group in groups.values():
        values = group.pop("values")
        out.append({**group, "n": len(values),
                    "mean": float(np.mean(values)) if values else None,
                    "min": min(values) if values else None,
                    "max": max(values) if values else None})
    return out


def write_json(rows, path):
    """Write the table *rows* as a JSON list of objects to *path*."""
    with open(path, "w") as f:
        json.dump([{k: _plain(v) for k, v in row.items()} for row in rows], f, indent=1)
        f.write("\n")


def write_csv(rows, path):
    """Write the table *rows* as CSV to *path*: a header of every column, a line per row
    (list values as JSON, None as an empty field)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else
                             json.dumps(_plain(v)) if isinstance(v, (list, tuple, dict,
                                                                     np.ndarray)) else v
                             for k, v in row.items()})


def plot_sweep(rows, path):
    """Plot the accuracy against each swept setting (one panel each) to the PNG *path*.

    A point is the mean over seeds, its bar spans the worst to the best seed; with more than
    one swept setting, each combination of the others is its own line. Failed tasks are left
    out.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    params = _params(rows)
    if not params:
        raise ValueError("plot_sweep needs the rows of a sweep (settings, then seed)")
    points = summary(rows)
    eval_set = next((row["eval_set"] for row in rows if row.get("eval_set")), "evaluation")
    fig, axes = plt.subplots(1, len(params), figsize=(4.5 * len(params), 3.8), squeeze=False)
    for ax, key in zip(axes[0], params):
        values = list(dict.fromkeys(_key(p[key]) for p in points))
        numeric = all(isinstance(json.loads(v), (int, float)) and
                      not isinstance(json.loads(v), bool) for v in values)
        where = {v: (json.loads(v) if numeric else i) for i, v in enumerate(values)}
        others = [k for k in params if k != key]
        lines = {}
        for p in points:
            if p["mean"] is not None:
                label = ", ".join(f"{k}={p[k]}" for k in others)
                lines.setdefault(label, []).append(p)
        for label, line in lines.items():
            line.sort(key=lambda p: where[_key(p[key])])
            x = [where[_key(p[key])] for p in line]
            mean = np.array([p["mean"] for p in line])
            low = mean - [p["min"] for p in line]
            high = np.array([p["max"] for p in line]) - mean
            ax.errorbar(x, mean, yerr=[low, high], fmt="o-", capsize=3, label=label or None)
        if not numeric:
            ax.set_xticks(range(len(values)), [str(json.loads(v)) for v in values])
        ax.set_xlabel(key)
        ax.set_ylabel(f"{eval_set} accuracy")
        ax.grid(True, alpha=0.3)
        if others and lines:
            ax.legend(fontsize=7)
    n_seeds = len({row["seed"] for row in rows})
    fig.suptitle(f"mean and min–max over {n_seeds} seed{'s' * (n_seeds != 1)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
