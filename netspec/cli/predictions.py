"""`netspec predict` files: reading raw input samples, writing predictions as CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.errors import Location, SpecError

if TYPE_CHECKING:
    import numpy as np

    from netspec.training import Prediction


def read_inputs(path: Path) -> np.ndarray[Any, Any]:
    """Samples from a .npy file (never unpickled) or a CSV of numbers (a header is skipped)."""
    import numpy as np

    if not path.is_file():
        raise SpecError.single("file-not-found", "no such input file", location=Location(str(path)))
    if path.suffix == ".npy":
        try:
            loaded: np.ndarray[Any, Any] = np.load(path, allow_pickle=False)
            return loaded
        except ValueError as exc:
            raise _bad(path, f"not a plain numeric .npy array ({exc})") from None
    if path.suffix != ".csv":
        raise _bad(path, "inputs are read from .npy or .csv files")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(path, f"not UTF-8 text ({exc.reason})") from None
    numbered = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), 1) if row]
    if numbered and not _numeric(numbered[0][1]):
        numbered = numbered[1:]  # a header
    values: list[list[float]] = []
    for r, row in numbered:
        if values and len(row) != len(values[0]):
            raise _bad(
                path, f"line {r} has {len(row)} values, the first row {len(values[0])}", line=r
            )
        try:
            values.append([float(cell) for cell in row])
        except ValueError:
            column = next(i for i, cell in enumerate(row) if not _number(cell))
            raise _bad(
                path, f"row {r}, column {column + 1}: {row[column]!r} is not a number", line=r
            ) from None
    if not values:
        raise _bad(path, "the file holds no samples")
    array = np.asarray(values, dtype=np.float64)
    if np.isnan(array).any():
        first = int(np.argwhere(np.isnan(array))[0][0])
        raise _bad(path, f"sample {first + 1} holds NaN")
    return array


def predictions_csv(prediction: Prediction) -> str:
    """One row per sample: label and probabilities (classification), or the values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = prediction.label_names()
    if prediction.labels is not None and prediction.labels.dim() > 1:
        # one label per position (sequence tasks): the labels of a sample, space-separated
        writer.writerow(["labels"])
        for labels in names if names is not None else prediction.labels.tolist():
            writer.writerow([" ".join(str(label) for label in labels)])
        return buffer.getvalue()
    if prediction.labels is not None and prediction.probabilities is not None:
        probabilities = prediction.probabilities.reshape(len(prediction.labels), -1).tolist()
        classes = prediction.class_names or [str(i) for i in range(len(probabilities[0]))]
        if prediction.task == "binary":  # the probability of the positive class (label 1)
            positive = classes[1] if len(classes) > 1 else "1"
            writer.writerow(["label", f"p_{positive}"])
        else:
            writer.writerow(["label", *(f"p_{c}" for c in classes)])
        labels = names if names is not None else prediction.labels.tolist()
        for label, probs in zip(labels, probabilities, strict=True):
            writer.writerow([label, *(f"{p:.6g}" for p in probs)])
        return buffer.getvalue()
    values = prediction.values if prediction.values is not None else prediction.outputs
    rows = values.reshape(values.shape[0], -1).tolist()
    writer.writerow(["value"] if len(rows[0]) == 1 else [f"value_{i}" for i in range(len(rows[0]))])
    for row in rows:
        writer.writerow([f"{v:.6g}" for v in row])
    return buffer.getvalue()


def _numeric(row: list[str]) -> bool:
    return all(_number(cell) for cell in row)


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _bad(path: Path, message: str, line: int | None = None) -> SpecError:
    return SpecError.single("data", message, location=Location(str(path), line))
