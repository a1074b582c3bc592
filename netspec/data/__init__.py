"""Training data for `netspec train`: the arrays of a data source (``netspec.sources``) split,
scaled and shaped to the spec's input. Imported by the training path only (it needs torch and
numpy).

Public interface (used by netspec.training):

- ``load_data(spec, task) -> Dataset``: read the spec's ``data:`` section, build the source,
  split it by fractions with a seed, fit standardization on the train split only (of the
  inputs, and of regression targets unless ``data.standardize_target`` is false), reshape
  samples to the spec's ``input`` (element counts must match), and check what can be checked
  before training (NaN, non-numeric values, missing columns, impossible shapes): every
  problem is a ``SpecError`` naming the file, column or shapes.
- ``prepare(x, spec, standardizer) -> torch.Tensor``: the same scaling and reshaping for new
  inputs (``netspec predict``); ``prepare_inputs`` for every input of a spec with several
  (a tuple, in declared order, from arrays named after the inputs).

With several inputs (``inputs:``) a split's ``x`` is a tuple of tensors, one per input in
declared order, each scaled with its own statistics (``Standardizers``).
- ``augment(x, options, generator) -> torch.Tensor``: train-time image augmentation.
"""

from __future__ import annotations

from netspec.data.augment import augment
from netspec.data.dataset import (
    Dataset,
    InputData,
    Inputs,
    Split,
    load_data,
    prepare,
    prepare_inputs,
)
from netspec.data.prepare import Standardizer, Standardizers, input_standardizers
from netspec.sources import Source, all_sources
from netspec.spec.sections import AugmentSpec

# Imported after their modules on purpose: `netspec.data.prepare` and `netspec.data.augment`
# are these functions (the modules stay importable with `from netspec.data.prepare import`).
__all__ = [
    "AugmentSpec",
    "Dataset",
    "InputData",
    "Inputs",
    "Source",
    "Split",
    "Standardizer",
    "Standardizers",
    "all_sources",
    "augment",
    "input_standardizers",
    "load_data",
    "prepare",
    "prepare_inputs",
]
