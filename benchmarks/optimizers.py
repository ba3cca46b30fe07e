"""Compare L-BFGS implementations on one loss, evaluation for evaluation.

Every method starts from the content image and gets the same budget of loss-and-gradient
evaluations of the same StyleTransferLoss, so only the optimiser differs:

* the engine's projected L-BFGS (optimisation/lbfgs.py) with 50 and with 10 pairs,
* SciPy's L-BFGS-B with 50 pairs,
* PyTorch's torch.optim.LBFGS with the strong-Wolfe line search and 100 pairs, if PyTorch is
  installed (it is not a dependency: `pip install torch` to add it). It has no bounds, so
  its image leaves [0, 1]; the table also gives the loss of the picture that is saved,
  which is clipped to [0, 1].

Example, from the repo root (about 3 minutes per method at 256 px on 2 cores):
`.venv/bin/python benchmarks/optimizers.py --size 256 --evaluations 400`.
Writes benchmarks/results/optimizers_<size>.json.
"""

from __future__ import annotations

import argparse
import json
import time

import benchmark  # first: sets TensorFlow's start-up environment, puts the repo on sys.path
import numpy as np

import helper

CHECKPOINTS = (50, 100, 200, 300, 400, 600, 800)


class BudgetSpent(Exception):
    """Raised inside the loss once a method has had all its evaluations."""


class CountedLoss:
    """The loss as a function of a flat vector, stopping the optimiser after `budget` calls."""

    def __init__(self, loss, shape, budget: int):
        self.loss, self.shape, self.budget = loss, shape, budget
        self.rows: list[dict] = []
        self.best: tuple[float, np.ndarray] | None = None
        self.start = time.perf_counter()

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Return (f, g) at x as float32, recording f and the time since the start."""
        if len(self.rows) >= self.budget:
            raise BudgetSpent
        image = np.asarray(x, np.float32).reshape(self.shape)
        terms, gradient = self.loss.terms_and_gradient(image)
        total = terms["total"]
        self.rows.append(
            {
                "evaluation": len(self.rows) + 1,
                "seconds": time.perf_counter() - self.start,
                "total": total,
            }
        )
        if self.best is None or total < self.best[0]:
            self.best = (total, image.copy())
        return total, gradient.ravel()


def engine(counted: CountedLoss, x0: np.ndarray, pairs: int) -> None:
    """Run the engine's L-BFGS (optimisation/lbfgs.py) until the budget is spent."""
    from optimisation import lbfgs

    lbfgs.minimize(counted, x0, counted.budget, memory=pairs)


def scipy_lbfgsb(counted: CountedLoss, x0: np.ndarray, pairs: int) -> None:
    """Run SciPy's L-BFGS-B on [0, 1] until the budget is spent."""
    import scipy.optimize

    def loss64(x):
        total, gradient = counted(x)
        return total, gradient.astype(np.float64)

    scipy.optimize.minimize(
        loss64,
        x0.astype(np.float64),
        jac=True,
        method="L-BFGS-B",
        bounds=scipy.optimize.Bounds(0.0, 1.0),
        options={
            "maxiter": counted.budget,
            "maxfun": counted.budget,
            "maxcor": pairs,
            "ftol": 0,
            "gtol": 0,
        },
    )


def torch_strong_wolfe(counted: CountedLoss, x0: np.ndarray, pairs: int) -> None:
    """Run torch.optim.LBFGS with line_search_fn='strong_wolfe' (no bounds)."""
    import torch

    x = torch.tensor(x0, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [x],
        lr=1,
        max_iter=counted.budget,
        max_eval=counted.budget,
        history_size=pairs,
        line_search_fn="strong_wolfe",
        tolerance_grad=0,
        tolerance_change=0,
    )

    def closure():
        optimizer.zero_grad()
        total, gradient = counted(x.detach().numpy())
        x.grad = torch.from_numpy(gradient)
        return torch.tensor(total)

    optimizer.step(closure)


def _torch_installed() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


METHODS = {
    "engine L-BFGS, 50 pairs": (engine, 50),
    "engine L-BFGS, 10 pairs": (engine, 10),
    "SciPy L-BFGS-B, 50 pairs": (scipy_lbfgsb, 50),
    "torch LBFGS strong Wolfe, 100 pairs": (torch_strong_wolfe, 100),
}


def run_method(loss, content: np.ndarray, name: str, budget: int) -> dict:
    """Run one method for `budget` evaluations; return its curve and the saved picture's loss."""
    method, pairs = METHODS[name]
    counted = CountedLoss(loss, content.shape, budget)
    try:
        method(counted, content.ravel().copy(), pairs)
    except BudgetSpent:
        pass
    best_total, best_image = counted.best
    saved = np.clip(best_image, 0.0, 1.0)
    return {
        "method": name,
        "rows": counted.rows,
        "best_total": best_total,
        "outside_box": float(np.mean(best_image != saved)),
        "saved_picture_total": loss.terms(saved)["total"],
    }


def evaluations_to(rows: list[dict], level: float) -> int | None:
    """Return the first evaluation whose loss is at or below `level`, or None."""
    return next((row["evaluation"] for row in rows if row["total"] <= level), None)


def report(runs: list[dict]) -> None:
    """Print the best loss after each number of evaluations, and evaluations to within 2%."""
    floor = min(run["saved_picture_total"] for run in runs)
    budget = max(len(run["rows"]) for run in runs)
    shown = [c for c in CHECKPOINTS if c <= budget]
    print(f"\nbest loss after n evaluations (lowest saved picture: {floor:.4g})")
    print(
        f"  {'method':36}"
        + "".join(f"{n:>10}" for n in shown)
        + "   s/eval  outside [0,1]  saved picture  evals to 2%"
    )
    for run in runs:
        best = np.minimum.accumulate([row["total"] for row in run["rows"]])
        seconds = run["rows"][-1]["seconds"] / len(run["rows"])
        # An unbounded method's own loss is of an image that is never saved: not counted.
        within = evaluations_to(run["rows"], 1.02 * floor) if not run["outside_box"] else None
        print(
            f"  {run['method']:36}"
            + "".join(f"{best[n - 1]:10.4g}" for n in shown)
            + f"{seconds:9.2f}{run['outside_box']:14.1%}{run['saved_picture_total']:15.4g}"
            + f"{within if within else '-':>13}"
        )


def main() -> None:
    """Run every available method on Grace Hopper x Great Wave and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=256, help="longest side (default: 256)")
    parser.add_argument(
        "--evaluations", type=int, default=400, help="budget per method (default: 400)"
    )
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    args = parser.parse_args()

    import tf_helper
    from going_further.style_scale import match_style_scale
    from tensorflow_vgg.vgg16_avg_pool import network

    methods = [m for m in args.methods if _torch_installed() or not m.startswith("torch")]
    for skipped in sorted(set(args.methods) - set(methods)):
        print(f"skipping {skipped!r}: PyTorch is not installed")
    content = helper.load_image(benchmark.CONTENT, max_side=args.size)
    style = match_style_scale(helper.load_image(benchmark.STYLE), content)
    loss = tf_helper.StyleTransferLoss(network(), content, style)
    loss.terms_and_gradient(content)  # trace once, outside every method's clock
    runs = []
    for name in methods:
        runs.append(run_method(loss, content, name, args.evaluations))
        print(
            f"{name}: {runs[-1]['best_total']:.4g} after {args.evaluations} evaluations", flush=True
        )
    report(runs)
    benchmark.RESULTS.mkdir(parents=True, exist_ok=True)
    out = benchmark.RESULTS / f"optimizers_{args.size}.json"
    out.write_text(json.dumps({"size": args.size, "runs": runs}, indent=1))
    print(f"wrote {out.relative_to(benchmark.ROOT)}")


if __name__ == "__main__":
    main()
