"""`netspec train`: the training loop, optimizers, schedulers, metrics and run directories.

Public API::

    result = train(spec, out=None, resume=None, device=None, reporter=None, data=None)
    evaluate(run_dir, split="test") -> {"loss": ..., "accuracy": ...}
    predict(run_dir, x) -> Prediction (labels + probabilities, or values)
    encode(run_dir, x) -> latent codes (an autoencoder of `networks: {encoder, decoder}`)

A model with several inputs trains on splits whose ``x`` is a tuple (one tensor per input,
in declared order) and predicts from arrays by input name; one with several outputs trains,
evaluates and interprets its first output, and ``predict`` returns the others as they are
(``batches``).

Modules: ``session`` (``train``: a run set up), ``preflight`` (the checks before the run
directory is made), ``loop`` (the Trainer), ``checkpoint`` (the versioned ``TrainState`` in
last.ckpt), ``signals`` (Ctrl-C/SIGTERM deferred to the end of a batch), ``distributed`` and
``launch`` (several processes, ``--devices N``), ``optim`` (optimizer, lr schedule with
warmup and lr scaling), ``losses`` (task -> loss, targets, output-shape checks), ``metrics``
(torchmetrics per task), ``rundir`` (the run directory's files), ``inference`` (``evaluate``,
``predict``, ``encode``), ``batches`` (several inputs and outputs), ``autoencoders`` (an
encoder and a decoder trained as one model), ``variational`` (a VAE's loss: reconstruction +
weighted KL). A GAN (``task: gan``, a spec of two networks): ``gan_session`` (its checks and
run directory), ``gan`` (its trainer), ``gan_losses``, ``gan_state`` (its last.ckpt), ``ema``
(the generator's weight average), ``samples`` (drawing from a latent network, samples.png)
and ``generate`` (``netspec sample``). A language model (``netspec generate``): ``decoding``
(incremental decoding of a built model: new tokens only, or the whole window), ``kv_cache``
(causal attention's cached keys and values), ``sampling`` (greedy, temperature, top-k, the
sliding window) and ``textgen`` (a run's model and tokenizer, text streamed).
Nothing here prints: progress goes to a ``Reporter``.
"""

from __future__ import annotations

from netspec.training.inference import Prediction, encode, evaluate, predict
from netspec.training.outcome import (
    GanFailed,
    PeerLost,
    RunResult,
    StartInfo,
    TrainingDiverged,
    TrainingInterrupted,
    TrainingStopped,
)
from netspec.training.protocols import DatasetLike, NullReporter, Reporter, SplitLike
from netspec.training.session import train

__all__ = [
    "DatasetLike",
    "GanFailed",
    "NullReporter",
    "PeerLost",
    "Prediction",
    "Reporter",
    "RunResult",
    "SplitLike",
    "StartInfo",
    "TrainingDiverged",
    "TrainingInterrupted",
    "TrainingStopped",
    "encode",
    "evaluate",
    "predict",
    "train",
]
