"""Regression targets standardized or not: scikit-learn's diabetes with a two-layer MLP.

The same spec (dense 64 relu, dense 1; Adam at lr 1e-3, batch 32) trained twice, with
``data.standardize_target`` true (the default) and false, on netspec's split of diabetes
(val 0.1, test 0.2, seed 0). Printed: each run's test MAE in the original units (the
disease-progression score, about 25..346), next to two references on the very same split:
predicting the training mean, and scikit-learn's LinearRegression on the same standardized
inputs.

Target: with standardized targets the MLP's test MAE is close to linear regression's and
clearly below the mean predictor's. This is a script, not a test:
``python benchmarks/regression_targets.py [--epochs 20]``; it exits 1 when the target is
missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

SPEC = """\
name: diabetes_mlp
input: [10]
layers:
  - dense: {{units: 64, activation: relu}}
  - dense: 1
data:
  source: diabetes
  split: {{val: 0.1, test: 0.2, seed: 0}}
  standardize_target: {standardize}
train:
  task: regression
  epochs: {epochs}
  batch_size: 32
  optimizer: {{type: adam, lr: 0.001}}
  metrics: [mae]
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()

    from sklearn.linear_model import LinearRegression  # type: ignore[import-untyped]

    import netspec
    from netspec.data import load_data

    spec = SPEC.format(standardize="true", epochs=args.epochs)
    data = load_data(netspec.load_spec(spec))
    if data.test is None:
        raise SystemExit("the split has no test set")
    x_train, y_train = data.train.x.numpy(), data.train.y.numpy().ravel()
    x_test, y_test = data.test.x.numpy(), data.test.y.numpy().ravel()
    mean_mae = float(np.abs(y_test - y_train.mean()).mean())
    linear = LinearRegression().fit(x_train, y_train)
    linear_mae = float(np.abs(y_test - linear.predict(x_test)).mean())

    maes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for standardize in ("true", "false"):
            text = SPEC.format(standardize=standardize, epochs=args.epochs)
            result = netspec.train(text, out=Path(tmp) / standardize)
            maes[standardize] = result.test["mae"]

    print(f"diabetes, {len(y_train)} train / {len(y_test)} test samples, {args.epochs} epochs")
    print(f"{'model':<44} test MAE")
    print(f"{'MLP, standardized targets (default)':<44} {maes['true']:8.2f}")
    print(f"{'MLP, standardize_target: false':<44} {maes['false']:8.2f}")
    print(f"{'predict the training mean':<44} {mean_mae:8.2f}")
    print(f"{'linear regression (scikit-learn)':<44} {linear_mae:8.2f}")
    ok = maes["true"] < 0.8 * mean_mae and maes["true"] < 1.1 * linear_mae
    print("target met" if ok else "TARGET MISSED: standardized MLP not close to linear")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
