"""File sources: ``csv`` and ``npz`` (alias ``npy``), read from local files only.

A relative path is resolved against the folder of the spec file (the working directory for a
spec given as text). Every problem names the file, and for CSV the row and column: a missing
file, a missing column (did-you-mean on the header), an empty, NaN or non-numeric cell, ragged
rows, arrays of different lengths.
"""

from __future__ import annotations

import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from netspec.errors import did_you_mean
from netspec.sources.registry import Context, DataProblem, RawData, Source, SourceOptions, register

if TYPE_CHECKING:
    from numpy.typing import NDArray

_MISSING_WORDS = {"", "na", "n/a", "nan", "null", "none", "?"}


class CsvOptions(SourceOptions):
    path: str = Field(min_length=1)
    target: str | int | None = None
    features: tuple[str | int, ...] | None = Field(None, min_length=1)
    header: bool = True
    delimiter: str = Field(",", min_length=1, max_length=1)


class NpzOptions(SourceOptions):
    path: str = Field(min_length=1)
    x_key: str = "x"
    y_key: str = "y"
    target_path: str | None = None


def resolve_path(path: str, ctx: Context, key: str) -> Path:
    """``path`` against the spec's folder; a DataProblem (with a did-you-mean) if absent."""
    try:
        given = Path(path).expanduser()
    except RuntimeError:  # `~name/...` for a user this machine does not have
        given = Path(path)
    file = given if given.is_absolute() else ctx.base_dir / given
    try:
        if file.is_file():
            return file
        if file.is_dir():
            raise DataProblem(f"{path!r} is a directory, not a data file", key=(key,))
        if file.exists():  # a device, FIFO or socket: reading one may never end
            raise DataProblem(f"{path!r} is not a regular file", key=(key,))
    except OSError as exc:  # a name too long, a folder that cannot be searched
        raise DataProblem(f"cannot read data file {path!r} ({exc.strerror})", key=(key,)) from None
    hints: tuple[str, ...] = ()
    try:
        guess = did_you_mean(file.name, [f.name for f in file.parent.iterdir() if f.is_file()])
    except OSError:
        guess = None
    if guess:
        hints = (f"did you mean {str(given.parent / guess)!r}?",)
    notes = () if given.is_absolute() else (f"relative paths start at the spec's folder: {file}",)
    raise DataProblem(f"data file {path!r} does not exist", key=(key,), hints=hints, notes=notes)


# --- csv -------------------------------------------------------------------------------------


def _read_rows(file: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    import csv

    rows: list[tuple[int, list[str]]] = []
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            try:
                for row in reader:
                    if any(cell.strip() for cell in row):  # blank lines are skipped
                        rows.append((reader.line_num, row))
            except csv.Error as exc:
                raise DataProblem(
                    f"{file.name}, line {reader.line_num}: not valid CSV ({exc})", key=("path",)
                ) from None
    except UnicodeDecodeError as exc:
        raise DataProblem(f"{file.name} is not UTF-8 text ({exc.reason})", key=("path",)) from None
    except OSError as exc:
        raise DataProblem(f"cannot read {file.name} ({exc.strerror})", key=("path",)) from None
    return rows


def _column(which: str | int, names: list[str], file: Path, key: tuple[str | int, ...]) -> int:
    if isinstance(which, int):
        if -len(names) <= which < len(names):
            return which % len(names)
        raise DataProblem(
            f"column {which} is out of range: {file.name} has {len(names)} columns",
            key=key,
            expected=f"a column index from 0 to {len(names) - 1}, or a column name",
        )
    if which in names:
        return names.index(which)
    guess = did_you_mean(which, names)
    raise DataProblem(
        f"{file.name} has no column {which!r}" + (f"; did you mean {guess!r}?" if guess else ""),
        key=key,
        received=which,
        expected="one of: " + ", ".join(names),
    )


def _cell_problem(file: Path, line: int, row: int, column: str, cell: str) -> str:
    where = f"{file.name}, row {row} (line {line}), column {column!r}"
    if cell.strip().lower() in _MISSING_WORDS:
        shown = "an empty cell" if not cell.strip() else f"a missing value ({cell.strip()!r})"
        return f"{where}: {shown}; every feature needs a number"
    return f"{where}: non-numeric value {cell.strip()!r}"


def _csv(options: CsvOptions, ctx: Context) -> RawData:
    import math

    import numpy as np

    file = resolve_path(options.path, ctx, "path")
    rows = _read_rows(file, options.delimiter)
    if options.header:
        if not rows:
            raise DataProblem(f"{file.name} is empty", key=("path",))
        names = [cell.strip() for cell in rows[0][1]]
        rows = rows[1:]
    else:
        names = [str(i) for i in range(len(rows[0][1]))] if rows else []
    if not rows:
        raise DataProblem(f"{file.name} has no data rows", key=("path",))
    width = len(names)
    for number, (line, row) in enumerate(rows, 1):
        if len(row) != width:
            raise DataProblem(
                f"{file.name}, row {number} (line {line}) has {len(row)} values, but "
                f"{'the header has' if options.header else 'the first row has'} {width}",
                key=("path",),
            )
    target = None
    if options.target is not None:
        target = _column(options.target, names, file, ("target",))
    if options.features is not None:
        columns = [_column(f, names, file, ("features", i)) for i, f in enumerate(options.features)]
        if target is not None and target in columns:
            raise DataProblem(
                f"the target column {names[target]!r} is also among the features",
                key=("features", columns.index(target)),
            )
    else:
        columns = [i for i in range(width) if i != target]
    if not columns:
        raise DataProblem(f"{file.name} has no feature columns besides the target", key=("path",))
    x = np.empty((len(rows), len(columns)), dtype=np.float64)
    for number, (line, row) in enumerate(rows, 1):
        for j, c in enumerate(columns):
            cell = row[c]
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                if cell.strip().lower() in {"inf", "+inf", "-inf", "infinity", "-infinity"}:
                    message = (
                        f"{file.name}, row {number} (line {line}), column {names[c]!r}: "
                        f"infinite value {cell.strip()!r}"
                    )
                else:
                    message = _cell_problem(file, line, number, names[c], cell)
                raise DataProblem(message, key=("path",))
            x[number - 1, j] = value
    y = None if target is None else _target_column(rows, target, names[target], file)
    return RawData(
        x,
        y,
        "unknown",
        feature_names=[names[c] for c in columns],
        standardize=True,
        origin=str(file),
    )


def _target_column(
    rows: list[tuple[int, list[str]]], target: int, name: str, file: Path
) -> NDArray[Any]:
    """Numbers when every cell is one; otherwise labels (strings), for classification."""
    import math

    import numpy as np

    cells = [row[target].strip() for _, row in rows]
    for number, ((line, _), cell) in enumerate(zip(rows, cells, strict=True), 1):
        if cell.lower() in _MISSING_WORDS:
            shown = "an empty cell" if not cell else f"a missing value ({cell!r})"
            raise DataProblem(
                f"{file.name}, row {number} (line {line}), target column {name!r}: {shown}",
                key=("target",),
            )
    try:
        values = [float(cell) for cell in cells]
    except ValueError:
        return np.array(cells, dtype=str)
    for number, ((line, _), value) in enumerate(zip(rows, values, strict=True), 1):
        if not math.isfinite(value):
            raise DataProblem(
                f"{file.name}, row {number} (line {line}), target column {name!r}: "
                f"non-finite value {cells[number - 1]!r}",
                key=("target",),
            )
    return np.array(values, dtype=np.float64)


# --- npz / npy -------------------------------------------------------------------------------


def _load_array(file: Path, key: str) -> Any:
    import numpy as np

    try:
        with file.open("rb") as handle:
            magic = handle.read(6)
    except OSError as exc:
        raise DataProblem(f"cannot read {file.name} ({exc.strerror})", key=(key,)) from None
    if not (magic.startswith(b"PK") or magic == b"\x93NUMPY"):
        raise DataProblem(
            f"{file.name} is not a NumPy file (.npy, or .npz from numpy.savez)", key=(key,)
        )
    try:
        return np.load(file, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataProblem(
                f"{file.name} holds Python objects; netspec reads plain numeric arrays only "
                "(it never unpickles)",
                key=(key,),
            ) from None
        raise _damaged(file, key, exc) from None  # the magic number was right
    except _DAMAGED as exc:
        raise _damaged(file, key, exc) from None
    except MemoryError as exc:
        raise _too_big(file, key, exc) from None
    except OSError as exc:
        raise DataProblem(f"cannot read {file.name} ({exc})", key=(key,)) from None


# A truncated or corrupted .npz: the zip directory is missing, a member's data ends early or
# fails its CRC, the compressed stream is broken, a flipped bit asks for a zip feature
# (encryption, another compression method) that zipfile lacks, an .npy header that no longer
# parses.
_DAMAGED = (
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    NotImplementedError,
    SyntaxError,
    tokenize.TokenError,
)


def _too_big(file: Path, key: str, exc: MemoryError) -> DataProblem:
    """numpy allocates the whole array its header announces before reading it."""
    return DataProblem(
        f"{file.name}: {exc}",
        key=(key,),
        hints=("the file is damaged, or its arrays need more memory than this machine has",),
    )


def _damaged(file: Path, key: str, exc: Exception) -> DataProblem:
    return DataProblem(
        f"{file.name} is damaged: {exc or type(exc).__name__}",
        key=(key,),
        hints=("the file may have been cut short while written or copied; write it again",),
    )


def _member(archive: Any, name: str, file: Path, key: str) -> NDArray[Any]:
    if name not in archive.files:
        guess = did_you_mean(name, archive.files)
        raise DataProblem(
            f"{file.name} has no array {name!r}" + (f"; did you mean {guess!r}?" if guess else ""),
            key=(key,),
            received=name,
            expected="one of: " + (", ".join(archive.files) or "(no arrays)"),
        )
    try:
        return archive[name]  # type: ignore[no-any-return]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):  # a member cut short: fewer bytes than its shape
            raise _damaged(file, key, exc) from None
        raise DataProblem(
            f"{file.name}: array {name!r} holds Python objects; netspec reads plain numeric "
            "arrays only (it never unpickles)",
            key=(key,),
        ) from None
    except (*_DAMAGED, OSError) as exc:  # OSError: a corrupted offset points off the file
        raise _damaged(file, key, exc) from None
    except MemoryError as exc:
        raise _too_big(file, key, exc) from None


def _first_bad(a: NDArray[Any]) -> str:
    import numpy as np

    index = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
    value = a[index]
    return f"[{', '.join(map(str, index))}] is {'NaN' if np.isnan(value) else value}"


def _npz(options: NpzOptions, ctx: Context) -> RawData:
    import numpy as np

    file = resolve_path(options.path, ctx, "path")
    loaded = _load_array(file, "path")
    several = len(ctx.input_names) > 1
    y: NDArray[Any] | None = None
    x_where, y_where = ("path",), ("target_path",)
    xs: dict[str, NDArray[Any]] = {}
    if isinstance(loaded, np.ndarray):
        if several:
            raise _one_array(file, ctx)
        x = loaded
    else:
        with loaded as archive:
            x_given = "x_key" in options.model_fields_set
            x_where = ("x_key",) if x_given else ("path",)
            if several:
                for name in ctx.input_names:
                    xs[name] = _input_member(archive, name, file, ctx)
                x = xs[ctx.input_names[0]]
            else:
                key = options.x_key
                named = ctx.input_names[0] if ctx.input_names else None
                if not x_given and named and key not in archive.files and named in archive.files:
                    key = named  # one input written under `inputs:`: its array by name
                x = _member(archive, key, file, x_where[0])
            y_given = "y_key" in options.model_fields_set
            if options.target_path is None and (y_given or options.y_key in archive.files):
                y_where = ("y_key",) if y_given else ("path",)
                y = _member(archive, options.y_key, file, y_where[0])
    if options.target_path is not None:
        target_file = resolve_path(options.target_path, ctx, "target_path")
        loaded_y = _load_array(target_file, "target_path")
        if not isinstance(loaded_y, np.ndarray):
            with loaded_y as archive:
                loaded_y = _member(archive, options.y_key, target_file, "target_path")
        y = loaded_y
    if several:
        for name, array in xs.items():
            xs[name] = _samples(array, name, file, x_where)
        counts = {name: len(array) for name, array in xs.items()}
        if y is not None:
            counts[options.y_key if options.target_path is None else "targets"] = len(y)
        if len(set(counts.values())) > 1:
            shown = ", ".join(f"{k} {n:,}" for k, n in counts.items())
            raise DataProblem(
                f"{file.name}: every array needs one entry per sample, but they have different "
                f"numbers of samples: {shown}",
                key=("path",),
            )
        x = xs[ctx.input_names[0]]
    else:
        x = _samples(x, "x", file, x_where)
    if y is not None:
        if y.ndim == 0 or y.dtype.kind not in "biufUS":
            raise DataProblem(
                f"{file.name}: y must be an array of numbers or labels, one per sample, got "
                f"dtype {y.dtype} and shape {y.shape}",
                key=y_where,
            )
        if len(y) != len(x):
            raise DataProblem(f"x has {len(x)} samples but y has {len(y)}", key=y_where)
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise DataProblem(f"{file.name}: y{_first_bad(y)}", key=y_where)
        if y.dtype.kind == "S":
            y = y.astype(str)
    return RawData(
        x,
        y,
        "unknown",
        standardize=x.dtype.kind == "f",
        origin=str(file),
        xs=xs if several else None,
    )


def _samples(x: NDArray[Any], name: str, file: Path, where: tuple[str, ...]) -> NDArray[Any]:
    """A numeric array with one row per sample ((n,) becomes (n, 1)), checked for NaN."""
    import numpy as np

    if x.dtype.kind not in "biuf" or x.ndim == 0:
        raise DataProblem(
            f"{file.name}: {name} must be a numeric array with one row per sample, got dtype "
            f"{x.dtype} and shape {x.shape}",
            key=where,
        )
    x = x.reshape(len(x), 1) if x.ndim == 1 else x
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise DataProblem(f"{file.name}: {name}{_first_bad(x)}", key=where)
    return x


def _input_member(archive: Any, name: str, file: Path, ctx: Context) -> NDArray[Any]:
    """The array of input ``name`` (a spec with several inputs): named after the input."""
    try:
        return _member(archive, name, file, "path")
    except DataProblem as problem:
        if problem.received != name:  # damaged, or Python objects: not a missing key
            raise
        names = ", ".join(ctx.input_names)
        raise DataProblem(
            problem.message,
            key=("path",),
            received=problem.received,
            expected=problem.expected,
            hints=(
                f"a spec with several inputs reads one array per input, named after it ({names}), "
                "and the targets at y_key",
            ),
        ) from None


def _one_array(file: Path, ctx: Context) -> DataProblem:
    names = ", ".join(ctx.input_names)
    return DataProblem(
        f"{file.name} holds one array, but the spec has {len(ctx.input_names)} inputs ({names})",
        key=("path",),
        hints=(f"save an .npz with one array per input, named {names}, and the targets as y",),
    )


def _npz_check(options: NpzOptions, ctx: Context) -> None:
    """With several inputs the arrays are named after the inputs: x_key has no use, and an
    .npy holds one array only."""
    if len(ctx.input_names) < 2:
        return
    names = ", ".join(ctx.input_names)
    if "x_key" in options.model_fields_set:
        raise DataProblem(
            f"x_key names the one array of samples, but the spec has {len(ctx.input_names)} "
            f"inputs: their arrays are read by the inputs' names ({names})",
            key=("x_key",),
            hints=("drop x_key, and save the arrays under the inputs' names",),
        )
    if options.path.lower().endswith(".npy"):
        raise DataProblem(
            f"an .npy file holds one array, but the spec has {len(ctx.input_names)} inputs "
            f"({names})",
            key=("path",),
            hints=(f"save an .npz with one array per input, named {names}, and the targets as y",),
        )


register(
    Source(
        "csv",
        CsvOptions,
        _csv,
        "a local CSV file: one row per sample, numeric feature columns, a target column",
        "file",
        kind="unknown",  # read the way the training task asks
        field_docs={
            "path": "the file; relative to the spec's folder (required)",
            "target": "the label column, by header name or 0-based index; required unless "
            "the task is autoencoder",
            "features": "the feature columns, by name or index; default: every other column",
            "header": "whether the first row names the columns; default true (without one, "
            "columns are named 0, 1, ...)",
            "delimiter": "one character; default ,",
        },
        example="path: iris.csv\ntarget: species",
    )
)
register(
    Source(
        "npz",
        NpzOptions,
        _npz,
        "local numpy arrays: an .npz with arrays x and y, or an .npy for x (and target_path for y)",
        "file",
        kind="unknown",  # read the way the training task asks
        aliases=("npy",),
        check=_npz_check,
        several_inputs=True,
        field_docs={
            "path": "an .npz archive or an .npy array; relative to the spec's folder (required)",
            "x_key": "the array of samples in an .npz; default x",
            "y_key": "the array of targets in an .npz; default y (optional for autoencoders)",
            "target_path": "an .npy (or .npz, read at y_key) with the targets",
        },
        example="path: data/train.npz",
    )
)
