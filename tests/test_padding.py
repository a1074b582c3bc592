"""Key-padding masks from a token input's `pad_id`, end to end: the plan marks the tensors
that carry padding, the lowering hands each attention and pooling layer its inputs' masks,
and a padded batch gives every sequence the output it has alone (the model, and model.py)."""

from __future__ import annotations

import pathlib
import runpy

import pytest
import torch

import netspec
from netspec.backend.eject import model_source
from netspec.backend.lower import lower, mask_name

ENCODER = """
name: padded_encoder
input: {shape: [T], dtype: int64, pad_id: 0}
layers:
  - embedding: {num_embeddings: 30, embedding_dim: 16}
  - positional_encoding: {kind: learned, max_len: 16}
  - dropout: 0.0
  - transformer_encoder: {num_heads: 2, num_layers: 2, dropout: 0.0, norm_first: false}
  - dense: {units: 16, activation: gelu}
  - sequence_pool: {mode: mean}
  - dense: 3
"""

SEQ2SEQ = """
name: padded_seq2seq
inputs:
  source: {shape: [S], dtype: int64, pad_id: 0}
  target: {shape: [T], dtype: int64, pad_id: 0}
layers:
  - embedding: {num_embeddings: 30, embedding_dim: 16, from: source, name: src}
  - transformer_encoder: {num_heads: 2, dropout: 0.0, name: memory}
  - embedding: {num_embeddings: 30, embedding_dim: 16, from: target, name: tgt}
  - transformer_decoder: {num_heads: 2, dropout: 0.0, from: [tgt, memory], name: dec}
  - multihead_attention: {num_heads: 2, from: [dec, memory], name: cross}
  - sequence_pool: {mode: max}
"""


def _right_pad(rows: list[list[int]], length: int) -> torch.Tensor:
    return torch.tensor([row + [0] * (length - len(row)) for row in rows])


def test_the_plan_marks_what_carries_padding() -> None:
    p = netspec.plan(ENCODER)
    padding = {layer.name: layer.out.padding for layer in p.layers}
    assert p.input.padding == "input"
    assert padding == {
        "embedding_0": "input",
        "positional_encoding_0": "input",
        "dropout_0": "input",
        "transformer_encoder_0": "input",
        "dense_0": "input",
        "sequence_pool_0": None,  # the sequence is gone
        "dense_1": None,
    }


def test_only_the_layers_that_honour_padding_get_the_mask() -> None:
    nodes = {node.name: node for node in lower(netspec.plan(ENCODER))}
    mask = mask_name("input")
    assert nodes[mask].inputs == ("input",)
    assert nodes["transformer_encoder_0"].inputs == ("dropout_0", mask)
    assert nodes["sequence_pool_0"].inputs == ("dense_0", mask)
    assert nodes["dense_0"].inputs == ("transformer_encoder_0",)
    without = lower(netspec.plan(ENCODER.replace(", pad_id: 0", "")))
    assert all(not node.name.startswith("_") for node in without)
    assert next(n for n in without if n.name == "sequence_pool_0").inputs == ("dense_0",)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_a_padded_batch_gives_each_sequence_its_output_alone(mode: str) -> None:
    model = netspec.build_model(ENCODER, seed=0)
    model.train(mode == "train")  # dropout 0: train and eval differ only in torch's paths
    rows = [[5, 6, 7, 8, 9, 3, 2], [4, 5, 6], [7]]
    batch = model(_right_pad(rows, 7))
    for i, row in enumerate(rows):
        alone = model(torch.tensor([row]))
        torch.testing.assert_close(batch[i], alone[0], atol=1e-5, rtol=1e-5)


def test_without_pad_id_padding_changes_the_output() -> None:
    # The same model without pad_id attends to the zeros: the property above is the mask's.
    model = netspec.build_model(ENCODER.replace(", pad_id: 0", ""), seed=0).eval()
    batch = model(_right_pad([[4, 5, 6]], 7))
    alone = model(torch.tensor([[4, 5, 6]]))
    assert not torch.allclose(batch[0], alone[0], atol=1e-3)


def test_model_py_masks_the_same_way(tmp_path: pathlib.Path) -> None:
    p = netspec.plan(ENCODER)
    source = model_source(p)
    assert "pad_input = x == 0" in source
    assert "self.transformer_encoder_0(dropout_0, pad_input)" in source
    (tmp_path / "model.py").write_text(source, encoding="utf-8")
    ejected = runpy.run_path(str(tmp_path / "model.py"))["PaddedEncoder"]().eval()
    built = netspec.build_model(ENCODER, seed=0).eval()
    ejected.load_state_dict(built.state_dict())
    tokens = _right_pad([[5, 6, 7, 8], [4, 5]], 4)
    torch.testing.assert_close(ejected(tokens), built(tokens))


def test_masks_reach_decoder_and_cross_attention_of_several_inputs() -> None:
    nodes = {node.name: node for node in lower(netspec.plan(SEQ2SEQ))}
    source_mask, target_mask = mask_name("source"), mask_name("target")
    assert nodes["memory"].inputs == ("src", source_mask)
    assert nodes["dec"].inputs == ("tgt", "memory", target_mask, source_mask)
    assert nodes["cross"].inputs == ("dec", "memory", target_mask, source_mask)
    assert nodes["sequence_pool_0"].inputs == ("cross", target_mask)

    model = netspec.build_model(SEQ2SEQ, seed=0).eval()
    sources, targets = [[3, 4, 5, 6], [7, 8]], [[9, 2, 3], [5]]
    batch = model(_right_pad(sources, 6), _right_pad(targets, 5))
    for i in range(2):
        alone = model(torch.tensor([sources[i]]), torch.tensor([targets[i]]))
        torch.testing.assert_close(batch[i], alone[0], atol=1e-5, rtol=1e-5)


def test_example_inputs_avoid_the_padding_id() -> None:
    from netspec.backend.build import example_inputs

    (tokens,) = example_inputs(netspec.plan(ENCODER.replace("[T]", "[6]")), batch=2)
    assert tokens.dtype == torch.int64
    assert bool((tokens != 0).all())
