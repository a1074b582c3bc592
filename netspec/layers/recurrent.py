"""rnn (simple_rnn), lstm, gru: PyTorch recurrent layers, batch first, Keras-style outputs.

Input (N, T, F) -> output (N, T, H*D) with ``return_sequences``, else (N, H*D): the final hidden
state of the LAST layer, forward and backward directions concatenated (``cat(h_n[-2], h_n[-1])``
when bidirectional, not ``output[:, -1]``, whose backward half is that direction's first step).
``D = 2`` if bidirectional; G gates = 1 (rnn), 3 (gru), 4 (lstm); ``in_l = F`` for the first
layer and ``D*H`` after it.
Params ``sum over layers/directions G*H*(in_l + H) (+ 2*G*H bias)``;
MACs ``T * sum over layers/directions G*H*(in_l + H)``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator

from netspec import dims
from netspec.layers.common import PositiveInt, Rate, known, require_float, require_rank
from netspec.layers.registry import (
    Call,
    Example,
    Inferred,
    LayerConfig,
    LayerType,
    Tensor,
    register,
)

_GATES = {"rnn": 1, "gru": 3, "lstm": 4}
_TORCH_CLASS = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}


class RecurrentConfig(LayerConfig):
    hidden_size: PositiveInt = Field(validation_alias=AliasChoices("hidden_size", "units"))
    num_layers: PositiveInt = 1
    bidirectional: bool = False
    return_sequences: bool = False
    dropout: Rate = 0.0
    bias: bool = True

    @field_validator("dropout")
    @classmethod
    def _dropout_needs_layers(cls, dropout: float, info: ValidationInfo) -> float:
        # torch applies this dropout between stacked layers only; with one layer it would
        # silently do nothing (torch merely warns), which hides a mistake.
        if dropout > 0 and info.data.get("num_layers") == 1:
            raise ValueError(
                "dropout acts between stacked recurrent layers, so it needs num_layers > 1; "
                "add a `dropout` layer after this one instead"
            )
        return dropout


class RNNConfig(RecurrentConfig):
    nonlinearity: Literal["tanh", "relu"] = Field(
        default="tanh", validation_alias=AliasChoices("nonlinearity", "activation")
    )


def _infer(kind: str) -> Any:
    gates = _GATES[kind]

    def infer(cfg: RecurrentConfig, inputs: tuple[Tensor, ...]) -> Inferred:
        (x,) = inputs
        require_float(x, kind)
        require_rank(x, (3,), kind, "(N, T, features)")
        steps = x.shape[0]
        features = known(x.shape[1], f"the feature dimension of {kind}'s input")
        h = cfg.hidden_size
        directions = 2 if cfg.bidirectional else 1
        # The first layer reads the features, every later one the D*H outputs below it.
        # Closed form, not a loop: num_layers is a user's number and may be absurdly large.
        weights = gates * h * (features + h) + (cfg.num_layers - 1) * gates * h * (
            directions * h + h
        )
        per_step = directions * weights
        params = per_step + directions * cfg.num_layers * (2 * gates * h if cfg.bias else 0)
        out = (steps, directions * h) if cfg.return_sequences else (directions * h,)
        return Inferred(Tensor(out), params, dims.mul(steps, per_step))

    return infer


def _module(kind: str) -> Any:
    def module(cfg: RecurrentConfig, inputs: tuple[Tensor, ...]) -> Call:
        features = known(inputs[0].shape[1], "features")
        kwargs: dict[str, Any] = {
            "num_layers": cfg.num_layers,
            "bias": cfg.bias,
            "dropout": cfg.dropout,
            "bidirectional": cfg.bidirectional,
            "return_sequences": cfg.return_sequences,
        }
        if isinstance(cfg, RNNConfig):
            kwargs["nonlinearity"] = cfg.nonlinearity
        return Call(f"LastState{_TORCH_CLASS[kind]}", (features, cfg.hidden_size), kwargs)

    return module


_SUMMARIES = {
    "rnn": "Elman RNN (torch.nn.RNN, tanh or relu)",
    "lstm": "LSTM (torch.nn.LSTM)",
    "gru": "GRU (torch.nn.GRU)",
}

_FIELD_DOCS = {
    "hidden_size": "features in the hidden state, per direction",
    "return_sequences": "return every step (N, T, H*D) instead of the last state",
    "dropout": "dropout between stacked layers (needs num_layers > 1)",
}
_RNN_DOCS = {"nonlinearity": "tanh or relu"}

for _kind in ("rnn", "lstm", "gru"):
    register(
        LayerType(
            name=_kind,
            config=RNNConfig if _kind == "rnn" else RecurrentConfig,
            infer=_infer(_kind),
            module=_module(_kind),
            aliases=("simple_rnn",) if _kind == "rnn" else (),
            primary="hidden_size",
            family="recurrent",
            summary=f"{_SUMMARIES[_kind]}, batch first; returns the last layer's final hidden "
            "state (both directions concatenated) or, with return_sequences, every step.",
            shape_rule="(N, T, F) -> (N, H*D), or (N, T, H*D) with return_sequences; "
            "D = 2 if bidirectional",
            examples=(
                Example({"hidden_size": 8}, (5, 3)),
                Example({"hidden_size": 6, "return_sequences": True}, (4, 5)),
                Example({"hidden_size": 4, "num_layers": 2, "bidirectional": True}, (6, 3)),
                Example(
                    {
                        "units": 5,
                        "num_layers": 3,
                        "dropout": 0.2,
                        "bias": False,
                        "return_sequences": True,
                        "bidirectional": True,
                    },
                    (3, 7),
                ),
            ),
            field_docs=_FIELD_DOCS if _kind != "rnn" else {**_FIELD_DOCS, **_RNN_DOCS},
        )
    )
