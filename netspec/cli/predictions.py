"""`netspec predict` and `netspec encode` files: reading raw input samples (.npy, .csv, or an
.npz with one array per input), writing predictions as CSV or .npz and codes as CSV or .npy."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.errors import Location, SpecError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from netspec.training import Prediction


def read_inputs(path: Path) -> np.ndarray[Any, Any] | dict[str, np.ndarray[Any, Any]]:
    """Samples from a .npy file or an .npz archive (arrays by name: one per input of a model
    with several; never unpickled), or a CSV of numbers (a header is skipped)."""
    import numpy as np

    if not path.is_file():
        raise SpecError.single("file-not-found", "no such input file", location=Location(str(path)))
    if path.suffix == ".npz":
        return _read_npz(path)
    if path.suffix == ".npy":
        try:
            loaded: np.ndarray[Any, Any] = np.load(path, allow_pickle=False)
            return loaded
        except ValueError as exc:
            raise _bad(path, f"not a plain numeric .npy array ({exc})") from None
    if path.suffix != ".csv":
        raise _bad(path, "inputs are read from .npy, .npz or .csv files")
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


def _read_npz(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _bad(path, f"not an .npz of plain numeric arrays ({exc})") from None


def predictions_csv(prediction: Prediction) -> str:
    """One row per sample: label and probabilities (classification), or the values. A
    model with several outputs: the first output as the prediction, then each other output's
    raw values in columns named after it (``<name>``, or ``<name>_0``, ``<name>_1``, ...)."""
    header, rows = _first_columns(prediction)
    for name, tensor in prediction.others.items():
        values = tensor.reshape(tensor.shape[0], -1).tolist()
        width = len(values[0]) if values else 1
        header += [name] if width == 1 else [f"{name}_{i}" for i in range(width)]
        rows = [
            [*row, *(f"{v:.6g}" for v in extra)] for row, extra in zip(rows, values, strict=True)
        ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _first_columns(prediction: Prediction) -> tuple[list[str], list[list[Any]]]:
    """The header and rows for the (first) output, interpreted for the task."""
    names = prediction.label_names()
    if prediction.labels is not None and prediction.labels.dim() > 1:
        # one label per position (sequence tasks): the labels of a sample, space-separated
        per_sample = names if names is not None else prediction.labels.tolist()
        return ["labels"], [[" ".join(str(label) for label in labels)] for labels in per_sample]
    if prediction.labels is not None and prediction.probabilities is not None:
        probabilities = prediction.probabilities.reshape(len(prediction.labels), -1).tolist()
        classes = prediction.class_names or [str(i) for i in range(len(probabilities[0]))]
        if prediction.task == "binary":  # the probability of the positive class (label 1)
            positive = classes[1] if len(classes) > 1 else "1"
            header = ["label", f"p_{positive}"]
        else:
            header = ["label", *(f"p_{c}" for c in classes)]
        labels = names if names is not None else prediction.labels.tolist()
        rows = [
            [label, *(f"{p:.6g}" for p in probs)]
            for label, probs in zip(labels, probabilities, strict=True)
        ]
        return header, rows
    values = prediction.values if prediction.values is not None else prediction.outputs
    table = values.reshape(values.shape[0], -1).tolist()
    width = len(table[0]) if table else 1
    header = ["value"] if width == 1 else [f"value_{i}" for i in range(width)]
    return header, [[f"{v:.6g}" for v in row] for row in table]


def predictions_npz(prediction: Prediction) -> bytes:
    """An .npz: every output's raw values under its layer name, and the first output as the
    task reads it: ``labels`` and ``probabilities`` (classification, binary) or ``values``
    (regression, autoencoder), unless an output layer already has that name."""
    import numpy as np

    arrays: dict[str, Any] = {}
    first = prediction.output_name or "output"
    arrays[first] = prediction.outputs.numpy()
    for name, other in prediction.others.items():
        arrays[name] = other.numpy()
    derived: dict[str, torch.Tensor | None] = {
        "labels": prediction.labels,
        "probabilities": prediction.probabilities,
        "values": prediction.values,
    }
    for key, tensor in derived.items():
        if tensor is not None and key not in arrays:
            arrays[key] = tensor.numpy()
    names = prediction.label_names()
    if names is not None and "label_names" not in arrays:
        arrays["label_names"] = np.asarray(names, dtype=str)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
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


def codes_csv(codes: torch.Tensor) -> str:
    """`netspec encode`'s CSV: one row per sample, the code flattened (``code_0``, ...)."""
    table = codes.reshape(codes.shape[0], -1).tolist()
    width = len(table[0]) if table else 0
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f"code_{i}" for i in range(width)])
    writer.writerows([[f"{v:.6g}" for v in row] for row in table])
    return buffer.getvalue()


def codes_npy(codes: torch.Tensor) -> bytes:
    """`netspec encode`'s .npy: the codes (n, *code shape), float32."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, codes.numpy().astype(np.float32), allow_pickle=False)
    return buffer.getvalue()
