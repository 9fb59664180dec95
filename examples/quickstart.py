"""mltrail quickstart: track a small hyper-parameter sweep with scikit-learn.

Trains a linear model with stochastic gradient descent on scikit-learn's built-in
diabetes data set (no download) for five learning rates (``eta0``): the smallest
converges slowly, the largest is noisy, which shows in the per-epoch curves. Each training is one run of the experiment "quickstart" that records:

- params: learning rate, alpha, epochs, ...
- metrics per epoch (train_rmse, val_rmse with step=epoch), then the final scores
- tags: the data set and the model family
- artifacts: a JSON summary and a short text note
- the fitted model (scaler + regressor), with an input example

Runs go to the tracking URI in effect: ``MLTRAIL_TRACKING_URI`` if set, otherwise the
folder ``./mltrail``. Run it with ``python examples/quickstart.py`` (a few seconds), then
look at the runs with ``mltrail runs list --experiment quickstart``.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import SGDRegressor
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import mltrail
import mltrail.sklearn

EXPERIMENT = "quickstart"
LEARNING_RATES = (0.0003, 0.001, 0.003, 0.01, 0.03)
ALPHA = 0.001
EPOCHS = 30


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


def train_one(
    eta0: float,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[str, float]:
    """One run: train for EPOCHS epochs, log as we go; returns (run id, val_rmse)."""
    x_train, x_val, y_train, y_val = data
    scaler = StandardScaler().fit(x_train)
    xs_train, xs_val = scaler.transform(x_train), scaler.transform(x_val)
    model = SGDRegressor(
        alpha=ALPHA,
        learning_rate="constant",
        eta0=eta0,
        random_state=0,
    )
    rng = np.random.default_rng(0)

    with mltrail.start_run(run_name=f"sgd-eta0-{eta0:g}") as run:
        mltrail.log_params(
            {
                "eta0": eta0,
                "alpha": ALPHA,
                "epochs": EPOCHS,
                "penalty": model.penalty,
                "scaler": "standard",
            }
        )
        mltrail.set_tags({"dataset": "diabetes", "model_family": "linear", "example": "quickstart"})

        for epoch in range(1, EPOCHS + 1):
            order = rng.permutation(len(xs_train))
            model.partial_fit(xs_train[order], y_train[order])
            mltrail.log_metrics(
                {
                    "train_rmse": rmse(y_train, model.predict(xs_train)),
                    "val_rmse": rmse(y_val, model.predict(xs_val)),
                },
                step=epoch,
            )

        predictions = model.predict(xs_val)
        final = {
            "val_rmse": rmse(y_val, predictions),
            "val_mae": float(mean_absolute_error(y_val, predictions)),
            "val_r2": float(r2_score(y_val, predictions)),
        }
        # Logged at the last epoch so that "latest value" and the final score agree.
        mltrail.log_metrics({"val_mae": final["val_mae"], "val_r2": final["val_r2"]}, step=EPOCHS)

        mltrail.log_dict(
            {
                "eta0": eta0,
                "final": final,
                "coefficients": dict(
                    zip(load_diabetes().feature_names, map(float, model.coef_), strict=True)
                ),
            },
            "summary.json",
        )
        mltrail.log_text(
            f"SGDRegressor, alpha={ALPHA:g}, {EPOCHS} epochs at eta0={eta0:g}.\n"
            f"Validation RMSE {final['val_rmse']:.2f}, R2 {final['val_r2']:.3f}.\n",
            "notes.txt",
        )
        # The scaler was fitted on the training data only; the pipeline bundles both so
        # that the logged model takes raw features.
        pipeline = Pipeline([("scale", scaler), ("sgd", model)])
        mltrail.sklearn.log_model(pipeline, "model", input_example=x_val[:5])
        return run.info.run_id, final["val_rmse"]


def main() -> None:
    started = time.perf_counter()
    features, target = load_diabetes(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        features, target, test_size=0.25, random_state=42
    )
    data = (x_train, x_val, y_train, y_val)

    mltrail.set_experiment(EXPERIMENT)
    results = []
    for eta0 in LEARNING_RATES:
        run_id, val_rmse = train_one(eta0, data)
        results.append((val_rmse, eta0, run_id))
        print(f"run {run_id}  eta0={eta0:<7g} val_rmse={val_rmse:.2f}")

    best_rmse, best_eta0, best_run = min(results)
    elapsed = time.perf_counter() - started
    print()
    print(
        f"Logged {len(results)} runs to experiment {EXPERIMENT!r} at "
        f"{mltrail.get_tracking_uri()} in {elapsed:.1f}s."
    )
    print(f"Best: eta0={best_eta0:g} (val_rmse {best_rmse:.2f}), run {best_run}")
    print()
    print("Look at them with:")
    print(f"  mltrail runs list --experiment {EXPERIMENT}")
    print(f"  mltrail runs list --experiment {EXPERIMENT} --order-by 'metrics.val_rmse ASC'")
    print(f"  mltrail runs show {best_run}")


if __name__ == "__main__":
    main()
