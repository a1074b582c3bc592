"""netspec.data: sources, files, split, standardization, reshape, augmentation, diagnostics."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from netspec.data import Dataset, Standardizer, augment, load_data, prepare
from netspec.data.prepare import split_indices
from netspec.errors import ERROR_CODES, SpecError
from netspec.sources import all_sources
from netspec.spec.data_check import source_options
from netspec.spec.load import Spec, load_spec
from netspec.spec.networks import Networks, load_any
from netspec.spec.sections import AugmentSpec
from netspec.training.autoencoders import data_spec
from netspec.training.gan_session import data_spec as gan_data_spec

ROOT = pathlib.Path(__file__).parent.parent


def spec_file(tmp_path: pathlib.Path, text: str, name: str = "spec.yaml") -> Spec:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_spec(path)


def spec_text(input_: str, data: str, train: str = "") -> str:
    text = f"input: {input_}\nlayers:\n  - flatten\n  - dense: 2\ndata:\n{data}"
    return text + (f"train:\n{train}" if train else "")


def load(input_: str, data: str, train: str = "") -> Dataset:
    return load_data(load_spec(spec_text(input_, data, train)))


def error(spec: Spec, task: str | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_data(spec, task)
    for d in info.value.diagnostics:
        assert d.code in ERROR_CODES
    return info.value


def same(a: Dataset, b: Dataset) -> bool:
    pairs = [(a.train, b.train), (a.val, b.val), (a.test, b.test)]
    return all(
        (s is None and t is None)
        or (s is not None and t is not None and torch.equal(s.x, t.x) and torch.equal(s.y, t.y))
        for s, t in pairs
    )


# --- every source ----------------------------------------------------------------------------

# source -> (input, extra data options, x dtype, y shape per sample, num_classes)
CASES: dict[str, tuple[str, str, torch.dtype, tuple[int, ...], int | None]] = {
    "digits": ("[1, 8, 8]", "", torch.float32, (), 10),
    "iris": ("[4]", "", torch.float32, (), 3),
    "wine": ("[13]", "", torch.float32, (), 3),
    "breast_cancer": ("[30]", "", torch.float32, (), 2),
    "diabetes": ("[10]", "", torch.float32, (1,), None),
    "moons": ("[2]", "  samples: 60\n", torch.float32, (), 2),
    "circles": ("[2]", "  samples: 60\n", torch.float32, (), 2),
    "blobs": ("[3]", "  n_samples: 60\n  centers: 4\n  features: 3\n", torch.float32, (), 4),
    "spirals": ("[2]", "  samples: 60\n  classes: 3\n", torch.float32, (), 3),
    "sine": ("[1]", "  samples: 60\n", torch.float32, (1,), None),
    "linear": ("[5]", "  samples: 60\n  features: 5\n  targets: 2\n", torch.float32, (2,), None),
    "parity": ("[12, 1]", "  samples: 60\n", torch.float32, (), 2),
    "sequence_sum": ("[T, 6]", "  samples: 60\n  length: 7\n", torch.float32, (), 6),
    "majority_token": (
        "{shape: [20], dtype: int64}",
        "  samples: 60\n  vocab_size: 5\n",
        torch.int64,
        (),
        5,
    ),
    "copy": ("{shape: [9], dtype: int64}", "  samples: 60\n  delay: 2\n", torch.int64, (9,), 8),
    "shapes": ("[3, 12, 12]", "  samples: 60\n  classes: 4\n", torch.float32, (), 4),
}


def test_every_registered_source_has_a_case() -> None:
    # Language-model sources (text, arithmetic, reverse) are tested in tests/test_lm_data.py.
    names = {s.name for s in all_sources() if s.kind != "language"}
    assert names - {"csv", "npz"} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_source_loads_with_shapes_and_dtypes(name: str) -> None:
    input_, options, dtype, y_shape, classes = CASES[name]
    task = "  task: regression\n" if classes is None else ""
    data = load(input_, f"  source: {name}\n{options}", task)
    spec = load_spec(spec_text(input_, f"  source: {name}\n{options}", task))
    want = tuple(
        d if isinstance(d, int) else data.input_shape[i] for i, d in enumerate(spec.input.shape)
    )
    for split in (data.train, data.val, data.test):
        assert split is not None
        assert split.x.dtype == dtype
        assert tuple(split.x.shape[1:]) == want
        assert tuple(split.y.shape[1:]) == y_shape
        assert len(split.x) == len(split.y)
    assert data.num_classes == classes
    if classes is not None:
        assert data.train.y.dtype == torch.int64
        assert data.class_names is not None
        assert len(data.class_names) == classes
        assert int(data.train.y.min()) >= 0
        assert int(data.train.y.max()) < classes
    else:
        assert data.train.y.dtype == torch.float32
    assert name in data.describe()
    again = load(input_, f"  source: {name}\n{options}", task)
    assert same(data, again)


@pytest.mark.parametrize(
    "name", ["moons", "blobs", "spirals", "sine", "linear", "parity", "majority_token", "shapes"]
)
def test_synthetic_sources_follow_their_seed(name: str) -> None:
    input_, options, _, _, classes = CASES[name]
    task = "  task: regression\n" if classes is None else ""
    a = load(input_, f"  source: {name}\n{options}  seed: 1\n", task)
    b = load(input_, f"  source: {name}\n{options}  seed: 2\n", task)
    assert not torch.equal(a.train.x, b.train.x)


def test_digits_match_the_issue_example() -> None:
    data = load_data(load_spec(ROOT / "specs" / "digits_cnn.yaml"))
    assert data.describe() == (
        "digits: 1,437 train / 180 val / 180 test, 64 features -> (1, 8, 8), 10 classes"
    )
    # standardized with the training split's statistics: mean 0, std 1 over its pixels
    assert abs(float(data.train.x.mean())) < 1e-5
    assert abs(float(data.train.x.std()) - 1.0) < 1e-2


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.stem)
def test_example_specs_load(path: pathlib.Path) -> None:
    loaded = load_any(path)
    # several networks: the data are the encoder's (an autoencoder) or the discriminator's
    # (a GAN), as training loads them
    spec = loaded
    if isinstance(loaded, Networks):
        gan = loaded.train is not None and loaded.train.task == "gan"
        spec = gan_data_spec(loaded) if gan else data_spec(loaded)
    if spec.data is None:
        pytest.skip("no data section")
    source, _ = source_options(spec)
    data = load_data(spec)
    # a file's data are named after the file (or folder: docs_char_gpt's text is docs/)
    if source.family != "file":
        assert data.name == source.name
    assert len(data.train) > 0


def test_sequences_follow_the_input() -> None:
    tokens = load("{shape: [16], dtype: int64}", "  source: parity\n  samples: 50\n")
    assert tokens.train.x.dtype == torch.int64
    assert set(tokens.train.x.unique().tolist()) <= {0, 1}
    assert torch.equal(tokens.train.x.sum(1) % 2, tokens.train.y)
    # Defaults come from the input: 10 steps; one-hot float tokens of vocab 6.
    one_hot = load("[10, 6]", "  source: majority_token\n  samples: 50\n")
    assert tuple(one_hot.train.x.shape[1:]) == (10, 6)
    assert torch.equal(one_hot.train.x.sum(-1), torch.ones(len(one_hot.train), 10))
    counts = one_hot.train.x.sum(1)
    top = counts.max(1, keepdim=True).values
    assert torch.equal(counts.argmax(1), one_hot.train.y)
    assert torch.equal((counts == top).sum(1), torch.ones(len(one_hot.train), dtype=torch.long))


def test_copy_targets_are_the_delayed_input() -> None:
    data = load("{shape: [8], dtype: int64}", "  source: copy\n  samples: 20\n  delay: 3\n")
    x, y = data.train.x, data.train.y
    assert torch.equal(y[:, 3:], x[:, :5])
    assert data.per_position
    assert "per position" in data.describe()


def test_int64_input_refuses_real_valued_data() -> None:
    err = error(load_spec(spec_text("{shape: [4], dtype: int64}", "  source: iris\n")))
    assert "non-integer" in err.render()


# --- split -----------------------------------------------------------------------------------


def test_split_sizes_and_disjointness() -> None:
    parts = split_indices(150, 0.2, 0.2, seed=0)
    assert parts.val is not None
    assert parts.test is not None
    assert (len(parts.train), len(parts.val), len(parts.test)) == (90, 30, 30)
    joined = np.concatenate([parts.train, parts.val, parts.test])
    assert sorted(joined.tolist()) == list(range(150))
    again = split_indices(150, 0.2, 0.2, seed=0)
    assert np.array_equal(parts.val, again.val)
    other = split_indices(150, 0.2, 0.2, seed=1)
    assert not np.array_equal(parts.val, other.val)


def test_zero_fraction_means_no_split() -> None:
    data = load("[2]", "  source: moons\n  samples: 40\n  split: {val: 0.25, test: 0}\n")
    assert data.test is None
    assert data.val is not None
    assert (len(data.train), len(data.val)) == (30, 10)
    assert "test" not in data.describe()


def test_splits_hold_different_samples() -> None:
    data = load("[3]", "  source: linear\n  samples: 100\n  features: 3\n", "  task: regression\n")
    assert data.val is not None
    assert data.test is not None
    rows = [tuple(r) for s in (data.train, data.val, data.test) for r in s.x.tolist()]
    assert len(rows) == len(set(rows)) == 100


def test_too_few_samples_to_split() -> None:
    spec = load_spec(spec_text("[2]", "  source: moons\n  samples: 2\n"))
    assert "too few" in error(spec).render()


# --- standardization -------------------------------------------------------------------------


def test_standardization_uses_train_statistics_only() -> None:
    from sklearn.datasets import load_iris  # type: ignore[import-untyped]

    data = load("[4]", "  source: iris\n  split: {val: 0.2, test: 0.2, seed: 3}\n")
    assert data.standardizer is not None
    raw = load_iris().data
    train = raw[split_indices(150, 0.2, 0.2, seed=3).train]
    assert np.allclose(data.standardizer.mean, train.mean(0))
    assert np.allclose(data.standardizer.std, train.std(0))
    assert torch.allclose(data.train.x.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(data.train.x.std(0, unbiased=False), torch.ones(4), atol=1e-4)
    assert data.val is not None
    assert not torch.allclose(data.val.x.mean(0), torch.zeros(4), atol=1e-5)


def test_constant_column_is_left_unscaled(tmp_path: pathlib.Path) -> None:
    rows = "\n".join(f"{i},5,{i % 2}" for i in range(20))
    (tmp_path / "t.csv").write_text("a,const,label\n" + rows + "\n")
    spec = spec_file(tmp_path, spec_text("[2]", "  source: csv\n  path: t.csv\n  target: label\n"))
    data = load_data(spec)
    assert data.standardizer is not None
    assert data.standardizer.std[1] == 1.0
    assert torch.isfinite(data.train.x).all()
    assert torch.equal(data.train.x[:, 1], torch.zeros(len(data.train)))


def test_standardize_option_and_defaults() -> None:
    # digits are raw 0..16 pixels, standardized (per channel) unless told otherwise
    assert load("[1, 8, 8]", "  source: digits\n  standardize: false\n").standardizer is None
    scaled = load("[1, 8, 8]", "  source: digits\n")
    assert scaled.standardizer is not None
    assert scaled.standardizer.mean.shape == (1,)  # per channel for images
    assert load("[4]", "  source: iris\n  standardize: false\n").standardizer is None
    seq = load("[T, 3]", "  source: sequence_sum\n  samples: 30\n  standardize: true\n")
    assert seq.standardizer is not None
    assert seq.standardizer.mean.shape == (3,)  # per feature of a step


def test_standardizer_round_trips_through_safetensors(tmp_path: pathlib.Path) -> None:
    from safetensors.torch import load_file, save_file

    fitted = Standardizer.fit(np.random.default_rng(0).normal(3, 2, (50, 4)))
    save_file(fitted.to_tensors(), str(tmp_path / "standardizer.safetensors"))
    back = Standardizer.from_tensors(load_file(str(tmp_path / "standardizer.safetensors")))
    assert back == fitted


# --- reshape and prepare ---------------------------------------------------------------------


def test_reshape_error_names_both_shapes(tmp_path: pathlib.Path) -> None:
    spec = spec_file(tmp_path, spec_text("[1, 7, 7]", "  source: digits\n"))
    err = error(spec)
    (d,) = err.diagnostics
    assert d.code == "data"
    assert "(64,)" in d.message
    assert "(1, 7, 7)" in d.message
    assert d.location.line == 6  # the `source: digits` line


def test_symbolic_input_takes_the_data_length() -> None:
    data = load("[T]", "  source: iris\n")
    assert data.input_shape == (4,)
    flat = load("[T, 2]", "  source: moons\n  samples: 20\n")  # 2 values: T = 1
    assert flat.input_shape == (1, 2)
    spec = load_spec(spec_text("[T, 8]", "  source: sequence_sum\n  samples: 20\n  features: 6\n"))
    assert "cannot take" in error(spec).render()  # (20, 6) is not reshaped to (15, 8)


def test_prepare_scales_and_reshapes_like_training() -> None:
    spec = load_spec(spec_text("[1, 8, 8]", "  source: digits\n  standardize: true\n"))
    data = load_data(spec)
    from sklearn.datasets import load_digits

    raw = load_digits().data  # the raw pixels a user would feed `netspec predict`
    out = prepare(raw, spec, data.standardizer)
    assert out.shape == (1797, 1, 8, 8)
    assert out.dtype == torch.float32
    test = data.test
    assert test is not None
    index = split_indices(1797, 0.1, 0.1, 0).test
    assert torch.allclose(out[index], test.x, atol=1e-6)
    assert prepare(raw[0].reshape(1, 8, 8), spec, data.standardizer).shape == (1, 1, 8, 8)
    assert prepare(torch.zeros(3, 64), spec).shape == (3, 1, 8, 8)
    with pytest.raises(SpecError) as info:
        prepare(np.zeros((3, 63)), spec)
    assert "(63,)" in info.value.render()
    assert "(1, 8, 8)" in info.value.render()
    with pytest.raises(SpecError, match="nan"):
        prepare(np.full((2, 64), np.nan), spec)


# --- tasks -----------------------------------------------------------------------------------


def test_task_shapes_targets() -> None:
    binary = load("[30]", "  source: breast_cancer\n", "  task: binary\n")
    assert binary.train.y.dtype == torch.float32
    assert tuple(binary.train.y.shape[1:]) == (1,)
    assert set(binary.train.y.unique().tolist()) <= {0.0, 1.0}
    assert binary.class_names == ["malignant", "benign"]
    auto = load("[1, 8, 8]", "  source: digits\n", "  task: autoencoder\n")
    assert torch.equal(auto.train.x, auto.train.y)
    assert auto.describe().endswith("target = input")
    # A task given to load_data wins over the spec's (the default task is classification,
    # which the spec check refuses for a regression source: tests/test_data_check.py).
    reg = load_data(load_spec(spec_text("[10]", "  source: diabetes\n", "  task: regression\n")))
    assert reg.task == "regression"
    assert tuple(reg.train.y.shape[1:]) == (1,)


@pytest.mark.parametrize(
    ("source", "input_", "task", "words"),
    [
        ("iris", "[4]", "binary", "needs two classes"),
        ("breast_cancer", "[30]", "regression", None),  # labels are numbers: allowed
    ],
)
def test_task_that_does_not_fit_the_data(
    source: str, input_: str, task: str, words: str | None
) -> None:
    # Known from the data only (a source's kind contradicting the task is a spec error,
    # tests/test_data_check.py).
    spec = load_spec(spec_text(input_, f"  source: {source}\n", f"  task: {task}\n"))
    if words is None:
        assert load_data(spec).task == task
    else:
        assert words in error(spec).render()


def test_labels_asked_of_regression_targets() -> None:
    # The spec says regression; a caller of load_data asks for labels all the same.
    spec = load_spec(spec_text("[10]", "  source: diabetes\n", "  task: regression\n"))
    assert "needs class labels, but the diabetes targets are regression targets" in (
        error(spec, "classification").render()
    )


# --- csv -------------------------------------------------------------------------------------

IRIS_CSV = """sepal_length,sepal_width,species
5.1,3.5,setosa
4.9,3.0,setosa
6.2,2.9,versicolor
5.9,3.0,virginica
6.0,2.2,versicolor
5.5,2.5,versicolor
6.7,3.1,virginica
5.0,3.4,setosa
6.3,2.8,virginica
5.7,2.6,versicolor
"""


def csv_spec(tmp_path: pathlib.Path, text: str, options: str, input_: str = "[2]") -> Spec:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "flowers.csv").write_text(text, encoding="utf-8")
    return spec_file(
        tmp_path, spec_text(input_, f"  source: csv\n  path: data/flowers.csv\n{options}")
    )


def test_csv_with_label_names(tmp_path: pathlib.Path) -> None:
    data = load_data(csv_spec(tmp_path, IRIS_CSV, "  target: species\n"))
    assert data.class_names == ["setosa", "versicolor", "virginica"]
    assert data.feature_names == ["sepal_length", "sepal_width"]
    assert data.num_classes == 3
    assert data.name == "flowers.csv"
    total = sum(len(s) for s in (data.train, data.val, data.test) if s is not None)
    assert total == 10


def test_csv_by_index_without_header(tmp_path: pathlib.Path) -> None:
    body = IRIS_CSV.split("\n", 1)[1]
    spec = csv_spec(
        tmp_path, body, "  target: -1\n  header: false\n  features: [1]\n", input_="[1]"
    )
    data = load_data(spec)
    assert data.feature_names == ["1"]
    assert data.num_classes == 3


def test_csv_missing_target_column_suggests_a_name(tmp_path: pathlib.Path) -> None:
    spec = csv_spec(tmp_path, IRIS_CSV, "  target: specis\n")
    (d,) = error(spec).diagnostics
    assert "no column 'specis'" in d.message
    assert "did you mean 'species'" in d.message
    assert d.location.line == 8  # the `target:` line
    assert d.path == ("data", "target")


def test_csv_missing_feature_column(tmp_path: pathlib.Path) -> None:
    spec = csv_spec(tmp_path, IRIS_CSV, "  target: species\n  features: [sepal_length, petal]\n")
    (d,) = error(spec).diagnostics
    assert "no column 'petal'" in d.message
    assert d.path == ("data", "features", 1)


def test_csv_nan_names_row_and_column(tmp_path: pathlib.Path) -> None:
    text = IRIS_CSV.replace("6.2,2.9", "6.2,NaN")
    (d,) = error(csv_spec(tmp_path, text, "  target: species\n")).diagnostics
    assert d.code == "data"
    assert "flowers.csv" in d.message
    assert "row 3" in d.message
    assert "line 4" in d.message
    assert "'sepal_width'" in d.message
    assert d.location.line == 7  # the `path:` line


def test_csv_non_numeric_cell_names_row_and_column(tmp_path: pathlib.Path) -> None:
    text = IRIS_CSV.replace("5.9,3.0", "five,3.0")
    (d,) = error(csv_spec(tmp_path, text, "  target: species\n")).diagnostics
    assert "non-numeric value 'five'" in d.message
    assert "row 4" in d.message
    assert "'sepal_length'" in d.message


def test_csv_empty_cell_and_ragged_row(tmp_path: pathlib.Path) -> None:
    empty = IRIS_CSV.replace("4.9,3.0", "4.9,")
    assert "empty cell" in error(csv_spec(tmp_path, empty, "  target: species\n")).render()
    ragged = IRIS_CSV.replace("4.9,3.0,setosa", "4.9,3.0")
    message = error(csv_spec(tmp_path, ragged, "  target: species\n")).render()
    assert "row 2 (line 3) has 2 values" in message


def test_csv_needs_a_target_unless_autoencoding(tmp_path: pathlib.Path) -> None:
    text = IRIS_CSV.replace(",species", "").replace(",setosa", "")
    text = text.replace(",versicolor", "").replace(",virginica", "")
    spec = csv_spec(tmp_path, text, "")
    assert "no targets" in error(spec).render()
    data = load_data(spec, "autoencoder")
    assert torch.equal(data.train.x, data.train.y)


def test_missing_data_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / "flowers.csv").write_text(IRIS_CSV)
    spec = spec_file(
        tmp_path, spec_text("[2]", "  source: csv\n  path: flower.csv\n  target: species\n")
    )
    (d,) = error(spec).diagnostics
    assert "does not exist" in d.message
    assert d.location.line == 7
    assert any("flowers.csv" in h for h in d.hints)


# --- npz / npy -------------------------------------------------------------------------------


def test_npz_round_trip(tmp_path: pathlib.Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2, 3)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    spec = spec_file(
        tmp_path,
        spec_text(
            "[6]",
            "  source: npz\n  path: d.npz\n  standardize: false\n  split: {val: 0, test: 0}\n",
        ),
    )
    data = load_data(spec)
    assert data.val is None
    assert data.test is None
    assert data.raw_shape == (2, 3)
    order = np.argsort(split_indices(40, 0, 0, 0).train)
    assert np.allclose(data.train.x.numpy()[order], x.reshape(40, 6))
    assert np.array_equal(data.train.y.numpy()[order], y)


def test_npy_with_target_path_and_keys(tmp_path: pathlib.Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(20.0).reshape(10, 2))
    np.save(tmp_path / "y.npy", np.arange(10.0) / 2)
    spec = spec_file(
        tmp_path,
        spec_text(
            "[2]", "  source: npy\n  path: x.npy\n  target_path: y.npy\n", "  task: regression\n"
        ),
    )
    data = load_data(spec)
    assert tuple(data.train.y.shape[1:]) == (1,)
    np.savez(tmp_path / "k.npz", inputs=np.ones((10, 2)), labels=np.arange(10) % 2)
    spec = spec_file(
        tmp_path,
        spec_text("[2]", "  source: npz\n  path: k.npz\n  x_key: inputs\n  y_key: label\n"),
    )
    (d,) = error(spec).diagnostics
    assert "did you mean 'labels'" in d.message
    assert d.path == ("data", "y_key")


def test_npz_nan_and_objects_are_refused(tmp_path: pathlib.Path) -> None:
    x = np.ones((10, 3))
    x[4, 2] = np.nan
    np.savez(tmp_path / "n.npz", x=x, y=np.zeros(10))
    spec = spec_file(tmp_path, spec_text("[3]", "  source: npz\n  path: n.npz\n"))
    assert "x[4, 2] is NaN" in error(spec).render()
    np.savez(tmp_path / "o.npz", x=np.array([{"a": 1}] * 10, dtype=object), y=np.zeros(10))
    spec = spec_file(tmp_path, spec_text("[3]", "  source: npz\n  path: o.npz\n"))
    assert "never unpickles" in error(spec).render()
    np.savez(tmp_path / "l.npz", x=np.ones((10, 3)), y=np.zeros(9))
    spec = spec_file(tmp_path, spec_text("[3]", "  source: npz\n  path: l.npz\n"))
    assert "x has 10 samples but y has 9" in error(spec).render()


def _damage(data: bytes, how: str) -> bytes:
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "corrupted":  # one byte of the first member's data flipped: its CRC fails
        at = data.index(b"NUMPY") + 80
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    # An .npy header announcing an array of 738 GiB (the padding keeps its length).
    return data.replace(b"(40, 3), }" + b" " * 8, b"(999999999, 99), }", 1)


@pytest.mark.parametrize(
    ("suffix", "how", "words"),
    [
        (".npz", "truncated", "d.npz is damaged: File is not a zip file"),
        (".npz", "corrupted", "d.npz is damaged: Bad CRC-32"),
        (".npy", "truncated", "d.npy is damaged: Failed to read all data"),
        (".npy", "huge", "d.npy: Unable to allocate"),
    ],
)
def test_damaged_numpy_files_are_data_diagnostics(
    tmp_path: pathlib.Path, suffix: str, how: str, words: str
) -> None:
    good = tmp_path / f"good{suffix}"
    x = np.ones((40, 3))
    if suffix == ".npz":
        np.savez(good, x=x, y=np.zeros(40))
    else:
        np.save(good, x)
    (tmp_path / f"d{suffix}").write_bytes(_damage(good.read_bytes(), how))
    spec = spec_file(tmp_path, spec_text("[3]", f"  source: npz\n  path: d{suffix}\n"))
    (d,) = error(spec, "autoencoder").diagnostics
    assert (d.code, d.path) == ("data", ("data", "path"))
    assert words in d.message


def test_values_past_float32_are_refused(tmp_path: pathlib.Path) -> None:
    x = np.ones((10, 3))
    x[2, 1] = 1e300  # finite in float64, inf once cast to the model's float32
    np.savez(tmp_path / "b.npz", x=x, y=np.zeros(10))
    spec = spec_file(tmp_path, spec_text("[3]", "  source: npz\n  path: b.npz\n"))
    (d,) = error(spec, "regression").diagnostics
    assert "hold 1e+300, past the range of float32" in d.message


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX devices and FIFOs")
def test_a_path_that_is_not_a_regular_file(tmp_path: pathlib.Path) -> None:
    import os

    os.mkfifo(tmp_path / "fifo")  # opening it to read would wait for a writer forever
    for path in ("/dev/zero", "fifo", "x" * 5000):
        spec = spec_file(tmp_path, spec_text("[3]", f"  source: npz\n  path: {path}\n"))
        (d,) = error(spec).diagnostics
        assert d.path == ("data", "path")
        expected = "cannot read data file" if path.startswith("x") else "is not a regular file"
        assert expected in d.message


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("d.npz", "d.npz is damaged: File is not a zip file"),
        ("/dev/zero", "'/dev/zero' is not a regular file"),
    ],
)
def test_train_reports_a_bad_data_file_as_a_diagnostic(
    tmp_path: pathlib.Path, path: str, words: str
) -> None:
    from typer.testing import CliRunner

    from netspec.cli.app import app

    np.savez(tmp_path / "good.npz", x=np.ones((40, 4)), y=np.zeros(40))
    (tmp_path / "d.npz").write_bytes((tmp_path / "good.npz").read_bytes()[:300])
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"input: [4]\nlayers: [dense: 2]\ndata: {{source: npz, path: {path}}}\n"
        "train: {task: classification, epochs: 1}\n"
    )
    result = CliRunner().invoke(app, ["train", str(spec), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    assert f"spec.yaml:3:27: error[data]: data.path: {words}" in result.stderr


# --- augmentation ----------------------------------------------------------------------------


def batch() -> torch.Tensor:
    return torch.arange(4 * 2 * 5 * 6, dtype=torch.float32).reshape(4, 2, 5, 6) + 1


def test_augment_keeps_shapes_and_is_deterministic() -> None:
    options = AugmentSpec(flip=True, crop_padding=2, noise=0.1)
    x = batch()
    original = x.clone()
    a = augment(x, options, torch.Generator().manual_seed(0))
    b = augment(x, options, torch.Generator().manual_seed(0))
    c = augment(x, options, torch.Generator().manual_seed(1))
    assert a.shape == x.shape
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(x, original)  # the input batch is not modified


def test_augment_flip_and_crop_semantics() -> None:
    x = batch()
    flipped = augment(x, AugmentSpec(flip=True), torch.Generator().manual_seed(0))
    for i in range(len(x)):
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(-1))
    cropped = augment(x, AugmentSpec(crop_padding=1), torch.Generator().manual_seed(3))
    for i in range(len(x)):
        padded = torch.nn.functional.pad(x[i], (1, 1, 1, 1))
        windows = [padded[:, r : r + 5, c : c + 6] for r in range(3) for c in range(3)]
        assert any(torch.equal(cropped[i], w) for w in windows)
    noisy = augment(
        torch.zeros(64, 1, 8, 8), AugmentSpec(noise=0.5), torch.Generator().manual_seed(0)
    )
    assert abs(float(noisy.std()) - 0.5) < 0.05
    assert augment(x, AugmentSpec(), None) is x
    with pytest.raises(ValueError, match="image batches"):
        augment(torch.zeros(4, 3), AugmentSpec(flip=True), None)


def test_augmentation_is_left_to_training_batches() -> None:
    plain = load("[3, 8, 8]", "  source: shapes\n  samples: 40\n")
    aug = load(
        "[3, 8, 8]", "  source: shapes\n  samples: 40\n  augment: {flip: true, crop_padding: 1}\n"
    )
    assert plain.augment is None
    assert aug.augment == AugmentSpec(flip=True, crop_padding=1)
    assert same(plain, aug)  # val and test (and stored train) data are never augmented


# --- diagnostics -----------------------------------------------------------------------------


def test_no_data_section() -> None:
    spec = load_spec("input: [2]\nlayers: [dense: 2]\n")
    assert error(spec).diagnostics[0].code == "missing-field"


def test_validation_never_loads_the_data_package() -> None:
    code = (
        "import sys, netspec\n"
        "netspec.plan('input: [2]\\nlayers: [dense: 2]\\ndata: {source: moons, samples: 3}')\n"
        "assert not {'torch', 'numpy', 'sklearn', 'netspec.data'} & set(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_docs_mention_every_source() -> None:
    text = (ROOT / "docs" / "data.md").read_text(encoding="utf-8")
    for source in all_sources():
        assert f"`{source.name}`" in text, source.name
        for option in source.options.model_fields:
            assert f"`{option}`" in text, (source.name, option)
