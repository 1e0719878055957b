"""What the MI penalty costs: fairmine against ERM, the faithful loop and fairlearn.

    python benchmarks/speed.py [--device cpu] [--threads 1 2] [--quick] [--repeats 3]
                               [--only german adult digits] [--configs default ...] [--out FILE]

Each configuration is fitted in a fresh subprocess (so its peak memory is its own), after a tiny
warm-up fit that pays the process's one-time costs (lazy imports, first kernel calls: about a
second, which used to count against ERM's short fits and understate every ratio), on the same
data and epochs, and the table prints wall time, training samples per second, peak memory (max
RSS on the CPU, torch's peak allocation on CUDA), the ratio of wall time to ERM's, and the
accuracy/EO (German) or unbiased accuracy (colored MNIST) that the fit reached. Wall times are
the median of ``--repeats`` fits, made in rounds over the configurations so that a drifting
machine moves them alike, except for the slow faithful rows (one fit each).

- German credit MLP: one 70/30 split (seed 0), 30 epochs (fairmine's default), mi_weight 3.
- Adult-sized MLP: the 32,561 rows of ``load_adult(subset="train")`` (sex as the attribute,
  missing categories as their own value, German's encoder), 3 epochs, mi_weight 3; accuracy and
  EO on the 16,281 rows of the official test part.
- Colored MNIST CNN (reference digits network): variance 0.02, 2000 training digits (200 per
  class), 3 epochs, lr 1e-3, mi_weight 1, joint update -- a cost measurement; accuracies after 3
  epochs say little.
- "default" = fairmine's defaults: critic batches from the representation bank,
  ``DonskerVaradhan(steps="auto", bank_size="auto")`` (K = 3 on the MLPs, 40 on the CNN; a
  bank of one batch), MINE's per-weight-tensor clipping (a second backward pass through the
  encoder). "bank K=k" = the same at a fixed K; "repr. clip" = the same with
  clip_mi_gradient="representation" (one backward pass); "faithful" = Algorithm 1 as printed, a
  fresh minibatch through the encoder for every critic step (sampling="fresh"). All use
  the joint update.
- "classifier critic" (German and Adult): the defaults with ``critic_type="classifier"``, a
  classifier of the attribute from ``z`` (one forward pass scores every attribute value, no
  marginal term), at its ``"auto"`` lr of 3e-3.
- "mi_weight=0 (defaults)" is what users put in a lambda grid: every other parameter at its
  default. It trains no critic, so it costs what ERM costs.
- Every table is measured once per torch thread count (``--threads``), each fit in its own
  process with ``torch.set_num_threads``; the ratios to ERM come from the same table.
- Below each table, the cost of one more critic step, from the K = 10 and K = 80 rows.
- Scaling: German resampled to n rows, 1 epoch, ERM against the defaults.
- ``--configs default`` measures ERM and the named rows only (ERM is always measured).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import resource
import time

import numpy as np
from _provenance import recording

EXPERIMENTS = ("german", "adult", "digits")


def _german(n_rows: int | None = None):
    from fairmine.datasets import load_german
    from fairmine.experiments import german_preprocessor

    german = load_german()
    X, y = german.data, german.target.to_numpy()
    young = (X["age"] < 25).to_numpy()
    order = np.random.RandomState(0).permutation(len(y))
    train, test = order[:700], order[700:]
    prep = german_preprocessor().fit(X.iloc[train])
    X_train, X_test = prep.transform(X.iloc[train]), prep.transform(X.iloc[test])
    if n_rows is not None:  # resample the training part to n rows
        rows = np.random.RandomState(1).randint(0, len(train), n_rows)
        return X_train[rows], y[train][rows], young[train][rows], X_test, y[test], young[test]
    return X_train, y[train], young[train], X_test, y[test], young[test]


def _adult():
    from fairness_criteria import adult_features  # the criteria benchmark's Adult encoding

    from fairmine.experiments import german_preprocessor

    X, y, c = adult_features("train")
    X_test, y_test, c_test = adult_features("test")
    prep = german_preprocessor().fit(X)
    return prep.transform(X), y, c, prep.transform(X_test), y_test, c_test


def _digits():
    from fairmine.datasets import make_colored_mnist

    data = make_colored_mnist(0.02, random_state=0, n_train_per_class=200, n_test_per_class=100)
    return data.X_train, data.y_train, data.bias_train, data.X_test, data.y_test, None


def _fit_and_measure(
    experiment: str, params: dict, device: str, n_rows: int | None, threads: int, queue
):
    import torch
    from fairlearn.metrics import equal_opportunity_difference

    from fairmine import MIUnbiasedClassifier
    from fairmine.experiments import reference_classifier
    from fairmine.mi import DonskerVaradhan

    torch.set_num_threads(threads)
    if experiment == "german":
        X, y, c, X_test, y_test, c_test = _german(n_rows)
    else:
        X, y, c, X_test, y_test, c_test = _adult() if experiment == "adult" else _digits()
    params = dict(params)
    if params.pop("fairlearn", False):
        from fairlearn.adversarial import AdversarialFairnessClassifier

        model = AdversarialFairnessClassifier(
            backend="torch",
            predictor_model=[64, "relu", 8, "relu"],
            adversary_model=[8, "leaky_relu"],
            constraints="equalized_odds",
            batch_size=64,
            shuffle=True,
            random_state=0,
            **params,
        )
    elif experiment in ("german", "adult"):
        # the critic's settings come as nested names (penalty__steps)
        model = MIUnbiasedClassifier(random_state=0, device=device, penalty=DonskerVaradhan())
        model.set_params(**params)
    else:
        model = reference_classifier(
            "colored_mnist", lr=1e-3, mi_update="joint", random_state=0, device=device, **params
        )
    _warm_up(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    model.fit(X, y, sensitive_features=c)
    seconds = time.perf_counter() - start
    if device.startswith("cuda"):
        peak_mb = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    y_pred = np.asarray(model.predict(X_test))
    quality = {"accuracy": float(np.mean(y_pred == y_test))}
    if c_test is not None:
        quality["eo"] = float(
            equal_opportunity_difference(y_test, y_pred, sensitive_features=c_test)
        )
    epochs = params.get("max_epochs", params.get("epochs", 1))
    queue.put(
        {
            "seconds": seconds,
            "samples_per_s": len(y) * epochs / seconds,
            "peak_mb": peak_mb,
            "rows": len(y),
            "encoder_steps": math.ceil(len(y) / model.batch_size) * epochs,
            **quality,
        }
    )


def _warm_up(device: str) -> None:
    """Pay the process's one-time costs (lazy imports such as torch._dynamo, which the first
    optimizer pulls in, and first kernel calls) before the timed fit, so that they do not
    shrink the ratios to ERM."""
    import warnings

    from fairmine import MIUnbiasedClassifier
    from fairmine.mi import DonskerVaradhan

    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(64, 4)).astype(np.float32), np.arange(64) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tiny = MIUnbiasedClassifier(max_epochs=1, penalty=DonskerVaradhan(steps=1, warmup_steps=1))
        tiny.set_params(device=device).fit(X, y, sensitive_features=y)


def measure(
    experiment: str, params: dict, device: str, threads: int, n_rows: int | None = None
) -> dict:
    """Fit one configuration in a fresh process and return its measurements."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(
        target=_fit_and_measure, args=(experiment, params, device, n_rows, threads, queue)
    )
    process.start()
    result = queue.get()
    process.join()
    return result


EPOCHS = {"german": 30, "adult": 3, "digits": 3}
AUTO = {"penalty__steps": "auto", "penalty__bank_size": "auto", "penalty__sampling": "bank"}
BANK = {"penalty__sampling": "bank", "clip_mi_gradient": "per_tensor"}
REPRESENTATION = {"penalty__sampling": "bank", "clip_mi_gradient": "representation"}
FAITHFUL = {"penalty__sampling": "fresh", "clip_mi_gradient": "per_tensor"}


def configurations(experiment: str, ks: tuple[int, ...]) -> dict[str, dict]:
    epochs = EPOCHS[experiment]
    weight = {"german": 3.0, "adult": 3.0, "digits": 1.0}[experiment]
    configs = {
        "ERM": {"mi_weight": 0.0, "max_epochs": epochs},
        "mi_weight=0 (defaults)": {"mi_weight": 0.0, "max_epochs": epochs},
        # the digits network's reference settings fix K = 40 on fresh batches: undo that
        "default": {"mi_weight": weight, "max_epochs": epochs, **AUTO},
    }
    if experiment != "digits":  # an attribute with few values (the colour is continuous)
        configs["classifier critic"] = {
            "mi_weight": weight,
            "max_epochs": epochs,
            "penalty__critic_type": "classifier",
            **AUTO,
        }
    modes = [("bank", BANK, ks), ("repr. clip", REPRESENTATION, ks[1:2] or ks)]
    modes.append(("faithful", FAITHFUL, ks))
    for mode, settings, mode_ks in modes:
        for k in mode_ks:
            configs[f"{mode} K={k}"] = {
                "mi_weight": weight,
                "penalty__steps": k,
                "max_epochs": epochs,
                **settings,
            }
    if experiment == "german":
        configs["fairlearn adversarial"] = {"fairlearn": True, "epochs": epochs}
    return configs


def interleaved_medians(
    experiment: str, configs: dict[str, dict], device: str, threads: int, repeats: dict[str, int]
) -> dict[str, dict]:
    """``measure`` each configuration ``repeats[name]`` times, in rounds over all of them.

    Returns the median wall time of each, with its first fit's other figures. Rounds (ERM,
    default, ..., ERM, default, ...) rather than one configuration's fits in a row, so that a
    machine whose speed drifts (a shared host) moves every configuration alike.
    """
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    for round_ in range(max(repeats.values())):
        for name, params in configs.items():
            if round_ < repeats[name]:
                runs[name].append(measure(experiment, params, device, threads))
    medians = {}
    for name, fits in runs.items():
        seconds = float(np.median([r["seconds"] for r in fits]))
        medians[name] = {
            **fits[0],
            "seconds": seconds,
            "samples_per_s": fits[0]["samples_per_s"] * fits[0]["seconds"] / seconds,
        }
    return medians


def critic_step_costs(rows: dict[str, dict], ks: tuple[int, ...]) -> str:
    """Milliseconds one more critic step adds, from the smallest and largest K."""
    low, high = min(ks), max(ks)
    if low == high:
        return ""
    steps = rows["ERM"]["encoder_steps"]
    erm_ms = rows["ERM"]["seconds"] / steps * 1e3
    parts = [f"ERM: {erm_ms:.1f} ms per encoder step (whole fit / steps)"]
    for mode in ("bank", "faithful"):
        extra = rows[f"{mode} K={high}"]["seconds"] - rows[f"{mode} K={low}"]["seconds"]
        parts.append(f"{mode}: {extra / ((high - low) * steps) * 1e3:.2f} ms per critic step")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="K = 10 only, no scaling table")
    parser.add_argument("--repeats", type=int, default=3, help="fits per fast configuration")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads")
    parser.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=list(EXPERIMENTS))
    parser.add_argument("--configs", nargs="+", help="the rows to measure besides ERM")
    parser.add_argument("--out", help="also write the tables to this results file")
    args = parser.parse_args()
    ks = (10,) if args.quick else (10, 40, 80)
    if args.configs:
        known = [name for e in args.only for name in configurations(e, ks)]
        unknown = sorted(set(args.configs) - set(known))
        if unknown:
            raise SystemExit(
                f"--configs: no configuration {unknown}; choose from {list(dict.fromkeys(known))}"
            )
    with recording(args.out):
        for experiment in args.only:
            for threads in args.threads:
                print_table(experiment, ks, args.device, threads, args.repeats, args.configs)
        if not (args.quick or args.configs):
            scaling(args.device, args.threads)


def scaling(device: str, thread_counts: list[int]) -> None:
    """Time ERM and the defaults on German resampled to 1,000 to 100,000 rows, one epoch."""
    for threads in thread_counts:
        print(f"\nscaling with n (German resampled, 1 epoch, {device}, {threads} threads)")
        print(f"{'rows':>8} {'ERM s':>8} {'default s':>15} {'x ERM':>6}")
        for n in (1_000, 10_000, 100_000):
            erm = measure(
                "german",
                {"mi_weight": 0.0, "max_epochs": 1},
                device,
                threads,
                n,
            )
            fair = measure(
                "german",
                {"mi_weight": 3.0, "max_epochs": 1},
                device,
                threads,
                n,
            )
            ratio = fair["seconds"] / erm["seconds"]
            print(f"{n:>8} {erm['seconds']:>8.1f} {fair['seconds']:>15.1f} {ratio:>6.2f}")


def print_table(
    experiment: str,
    ks: tuple[int, ...],
    device: str,
    threads: int,
    repeats: int,
    names: list[str] | None = None,
) -> None:
    """Measure the configurations of one experiment (all, or ERM and those of ``names`` it has)."""
    configs = configurations(experiment, ks)
    if names is not None:  # the named rows that this experiment has
        configs = {k: v for k, v in configs.items() if k == "ERM" or k in names}
    if experiment == "adult":  # 10x German's rows: the slow rows once, no fairlearn
        configs = {k: v for k, v in configs.items() if "K=" not in k or k.endswith("K=10")}
    fits = {
        name: 1 if name.startswith("faithful") or experiment == "adult" else repeats
        for name in configs
    }
    rows = interleaved_medians(experiment, configs, device, threads, fits)
    erm = rows["ERM"]["seconds"]
    quality = "accuracy     EO" if experiment != "digits" else "unbiased acc"
    print(
        f"\n{experiment} ({device}, {threads} torch thread{'s' * (threads > 1)}, "
        f"{rows['ERM']['rows']} rows, {EPOCHS[experiment]} epochs)"
    )
    header = f"{'configuration':<26} {'wall s':>8} {'samples/s':>10} {'peak MB':>8} {'x ERM':>6}"
    print(f"{header}  {quality}")
    for name, r in rows.items():
        scores = f"{r['accuracy']:.3f}" + (f"  {r['eo']:.3f}" if "eo" in r else "")
        print(
            f"{name:<26} {r['seconds']:>8.1f} {r['samples_per_s']:>10.0f} {r['peak_mb']:>8.0f} "
            f"{r['seconds'] / erm:>6.2f}  {scores}"
        )
    if experiment != "adult" and names is None:
        print(critic_step_costs(rows, ks))


if __name__ == "__main__":
    main()
