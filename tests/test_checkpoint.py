"""last.ckpt as a typed, versioned TrainState: it round-trips exactly, and a checkpoint of
another version, a foreign torch file or a truncated one is a located error (exit code 2,
no traceback) when a run is resumed from it."""

from __future__ import annotations

import dataclasses
import io
import pathlib

import pytest
import torch
from typer.testing import CliRunner

from netspec.cli.app import app
from netspec.errors import ExitCode, SpecError
from netspec.training.checkpoint import (
    CHECKPOINT_VERSION,
    SCHEMA,
    RankRng,
    TrainState,
    decode,
    encode,
)

runner = CliRunner()
SPEC = "input: [4]\nlayers: [dense: 3]\ndata: iris\n"


def a_state(**changes: object) -> TrainState:
    generator = torch.Generator().manual_seed(7)
    rng = RankRng(torch.get_rng_state(), generator.get_state())
    state = TrainState(
        model={"0.weight": torch.randn(3, 4), "0.bias": torch.zeros(3)},
        optimizer={"state": {0: {"step": torch.tensor(5.0)}}, "param_groups": [{"lr": 0.1}]},
        schedule={"step": 5, "scale": 1.0, "best": None, "bad_epochs": 0},
        scaler={},
        grads={"0.bias": torch.ones(3)},
        epoch=2,
        batch=3,
        batches_seen=23,
        best_value=0.25,
        best_epoch=2,
        wait=0,
        stopped_early=False,
        finished=False,
        train_seconds=1.5,
        train_samples=160,
        epoch_loss=torch.tensor([1.0, 2.0]),
        epoch_samples=48,
        epoch_seconds=0.25,
        perm_rng=generator.get_state(),
        epoch_start_rng=None,
        rank_rngs=(rng, RankRng(rng.torch_rng, rng.augment_rng)),
        history=({"epoch": 1.0, "train_loss": 0.5}, {"epoch": 2.0, "train_loss": 0.25}),
        monitor="val_loss",
        world_size=2,
    )
    return dataclasses.replace(state, **changes)  # type: ignore[arg-type]


def same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(
            same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    return a == b


def test_round_trip_keeps_every_field() -> None:
    state = a_state()
    back = decode(encode(state), pathlib.Path("last.ckpt"))
    assert isinstance(back, TrainState)
    assert same(back, state)
    assert not same(back, a_state(batch=4))  # the comparison can fail


def test_the_schema_names_every_field_once() -> None:
    assert list(SCHEMA) == [f.name for f in dataclasses.fields(TrainState)]
    assert set(a_state().to_dict()) == {"format", *SCHEMA}


def saved(data: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(data, buffer)
    return buffer.getvalue()


def without(key: str) -> dict[str, object]:
    data = a_state().to_dict()
    del data[key]
    return data


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (saved({"format": 1, "epoch": 3, "rng": {}}), "format 1, written by an older netspec"),
        (saved({**a_state().to_dict(), "format": 9}), "format 9, written by a newer netspec"),
        (saved({"0.weight": torch.zeros(3, 4)}), "not a netspec training checkpoint"),
        (saved(torch.zeros(3)), "not a netspec training checkpoint"),
        (saved(torch.nn.Linear(2, 2)), "torch cannot load it as plain data"),
        (encode(a_state())[:200], "cannot read the checkpoint: the file is truncated or damaged"),
        (b"", "cannot read the checkpoint: the file is truncated or damaged (EOFError)"),
        (saved(without("perm_rng")), "damaged: `perm_rng` is missing"),
        (saved({**a_state().to_dict(), "epoch": "2"}), "damaged: `epoch` is not an integer"),
    ],
    ids=[
        "older",
        "newer",
        "state-dict",
        "tensor",
        "pickled-module",
        "truncated",
        "empty",
        "missing",
        "mistyped",
    ],
)
def test_unusable_checkpoints_are_located_errors(blob: bytes, message: str) -> None:
    path = pathlib.Path("runs", "r", "last.ckpt")
    with pytest.raises(SpecError, match="invalid-value") as info:
        decode(blob, path)
    text = info.value.render()
    assert text.startswith(f"{path}: error[invalid-value]: ")
    assert message in text


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (saved({"format": 1, "epoch": 3}), "the checkpoint has format 1, written by an older"),
        (saved({"model.0.weight": torch.zeros(3, 4)}), "not a netspec training checkpoint"),
        (saved([torch.zeros(3)]), "not a netspec training checkpoint"),
        (encode(a_state())[:-100], "cannot read the checkpoint: the file is truncated"),
    ],
    ids=["older", "state-dict", "foreign", "truncated"],
)
def test_resume_from_an_unusable_checkpoint_exits_2(
    tmp_path: pathlib.Path, blob: bytes, message: str
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "spec.yaml").write_text(SPEC)
    (run / "last.ckpt").write_bytes(blob)
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == ExitCode.USER_ERROR
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"{run / 'last.ckpt'}: error[invalid-value]: {message}")
    assert "  hint: " in result.stderr
    assert result.stdout == ""


def test_resume_from_an_older_checkpoint_says_what_to_do(tmp_path: pathlib.Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "spec.yaml").write_text(SPEC)
    (run / "last.ckpt").write_bytes(saved({"format": 1, "epoch": 3}))
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.stderr == (
        f"{run / 'last.ckpt'}: error[invalid-value]: the checkpoint has format 1, written by an "
        f"older netspec; this netspec reads format {CHECKPOINT_VERSION}\n"
        "  hint: resume it with the netspec version that wrote it, or train again\n"
    )


def test_checkpoint_version_is_the_one_saved() -> None:
    data = torch.load(io.BytesIO(encode(a_state())), weights_only=True)
    assert data["format"] == CHECKPOINT_VERSION
