"""``netspec generate``: text from a trained language-model run, streamed as it is produced.

Reads spec.yaml, model.safetensors and tokenizer.json (nothing is unpickled), encodes the
prompt with the run's tokenizer and continues it token by token (``sampling``), with the
key-value cache when the model's graph allows one (``decoding``). An empty prompt starts
from ``<eos>``, the separator before every document of the training text.

``stream`` yields the continuation's text in pieces that are complete characters: a byte or
BPE token can end in the middle of a UTF-8 character, so the tokens since the last piece are
held back while their text ends in an incomplete character (U+FFFD, the replacement
character). A token is decoded a few times at most: no cost that grows with the length.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from netspec.backend.artifacts import SPEC, load_model
from netspec.errors import SpecError, netspec_bug
from netspec.plan import plan
from netspec.sources import tokenizers
from netspec.spec.networks import Networks, load_any
from netspec.training.decoding import NO_CACHE, Decoder, context_length, decoder
from netspec.training.device import pick_device
from netspec.training.rundir import RunDir
from netspec.training.sampling import generate_ids

MAX_NEW_TOKENS = 1_000_000
INCOMPLETE = "\ufffd"
MAX_HELD = 4
"""Tokens held back at most, waiting for the rest of a character (UTF-8: 4 bytes at most)."""


@dataclass
class TextGenerator:
    """A loaded run, ready to continue prompts: its model's decoder, tokenizer and context."""

    decoder: Decoder
    tokenizer: tokenizers.Tokenizer
    context: int | None
    device: torch.device

    @property
    def note(self) -> str | None:
        """Why every token recomputes the whole window, when the cache was asked for but the
        model's graph has a layer it does not know (None otherwise)."""
        if self.decoder.cached or self.decoder.reason == NO_CACHE:
            return None
        why = self.decoder.reason
        return f"no key-value cache for {why}: each token recomputes the whole window"

    def encode(self, prompt: str) -> list[int]:
        try:
            ids = self.tokenizer.encode(prompt)
        except tokenizers.TokenizerError as exc:
            raise SpecError.single(
                "invalid-value",
                f"the prompt cannot be encoded: {exc}",
                hints=("use only characters of the training text",),
            ) from None
        return ids or [self.tokenizer.eos_id]

    def stream(
        self,
        prompt: str,
        *,
        max_new_tokens: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """The continuation of ``prompt`` (not the prompt itself), in complete characters,
        up to ``<eos>`` (not included) or ``max_new_tokens`` tokens."""
        check_settings(max_new_tokens, temperature, top_k, seed)
        prompt_ids = torch.tensor([self.encode(prompt)], device=self.device)
        pending: list[int] = []  # tokens since the last complete piece
        eos = self.tokenizer.eos_id
        steps = generate_ids(
            self.decoder,
            prompt_ids,
            max_new_tokens=max_new_tokens,
            context=self.context,
            temperature=temperature,
            top_k=top_k,
            seed=seed,
            eos_id=eos,
            vocab_size=self.tokenizer.vocab_size,
            banned=tokenizers.never_generated(self.tokenizer),
        )
        for new in steps:
            token = int(new[0])
            if token == eos:
                break
            pending.append(token)
            text = self.tokenizer.decode(pending)
            # Held while it ends in an incomplete character; a character is at most 4 bytes,
            # so a longer run of undecodable tokens is shown, but only up to the tokens that
            # may still begin a character (a stray byte before a 4-byte character).
            if not text.endswith(INCOMPLETE):
                if text:
                    yield text
                pending = []
            elif len(pending) >= MAX_HELD:
                shown, pending = self._settled(pending, text)
                if shown:
                    yield shown
        if pending:  # the end: whatever is left, as it is
            yield self.tokenizer.decode(pending)

    def _settled(self, pending: list[int], text: str) -> tuple[str, list[int]]:
        """The text of the longest head of ``pending`` that decodes apart from the rest as
        the whole does, and the rest (still waiting); all of it when no head does."""
        for cut in range(len(pending) - 1, 0, -1):
            head = self.tokenizer.decode(pending[:cut])
            if head + self.tokenizer.decode(pending[cut:]) == text:
                return head, pending[cut:]
        return text, []


def check_settings(
    max_new_tokens: int, temperature: float, top_k: int | None, seed: int | None = None
) -> None:
    if not 0 <= max_new_tokens <= MAX_NEW_TOKENS:
        raise SpecError.single(
            "invalid-value",
            f"--max-new-tokens is 0 to {MAX_NEW_TOKENS:,}, not {max_new_tokens}",
        )
    if not temperature >= 0 or temperature == float("inf"):
        raise SpecError.single(
            "invalid-value",
            f"--temperature is 0 (greedy) or more, not {temperature}",
        )
    if top_k is not None and top_k < 1:
        raise SpecError.single("invalid-value", f"--top-k is 1 or more, not {top_k}")
    if seed is not None and not -(2**63) <= seed < 2**64:  # what torch.Generator takes
        raise SpecError.single(
            "invalid-value", f"--seed is -2**63 to 2**64 - 1 (a 64-bit integer), not {seed}"
        )


def load_generator(
    run_dir: str | os.PathLike[str], *, cache: bool = True, device: str | None = None
) -> TextGenerator:
    """The language model of a run directory and its tokenizer."""
    run = RunDir.trained(run_dir)
    folder = run.path
    if not (folder / tokenizers.FILE).is_file():
        raise SpecError.single(
            "file-not-found",
            f"{tokenizers.FILE} is missing: {folder} is not a language-model run",
            hints=("netspec generate continues text with a run of `task: language_model`",),
        )
    spec = load_any(folder / SPEC)
    if isinstance(spec, Networks):
        raise SpecError.single(
            "invalid-value",
            f"{folder} is a run of several networks ({', '.join(spec.networks)}), not a "
            "language model",
        )
    task = spec.train.task if spec.train is not None else None
    if task != "language_model":
        raise SpecError.single(
            "invalid-value",
            f"{folder} is a run of task {task or 'classification'}, not a language model",
            hints=("netspec generate continues text with a run of `task: language_model`",),
        )
    tokenizer = run.read_tokenizer()
    if tokenizer is None:  # checked above
        raise netspec_bug(f"{folder / tokenizers.FILE} vanished")
    planned = plan(spec)
    heads = planned.output.shape[-1]
    if isinstance(heads, int) and heads < tokenizer.vocab_size:
        raise SpecError.single(
            "invalid-value",
            f"{folder / tokenizers.FILE} has {tokenizer.vocab_size} tokens, but the model "
            f"predicts {heads}: the tokenizer is not the one this model trained with",
            hints=("use the tokenizer.json that `netspec train` wrote into this run",),
        )
    length = planned.input.shape[0]
    target = pick_device(device or "auto")
    model = load_model(folder).to(target)
    context = context_length(model, length if isinstance(length, int) else None)
    return TextGenerator(decoder(model, cache=cache), tokenizer, context, target)


def generate(
    run_dir: str | os.PathLike[str],
    prompt: str,
    *,
    max_new_tokens: int = 100,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    cache: bool = True,
    device: str | None = None,
) -> str:
    """The continuation of ``prompt`` by the language model of ``run_dir`` (the prompt not
    included); ``temperature=0`` is greedy, ``seed`` makes sampling reproducible."""
    check_settings(max_new_tokens, temperature, top_k, seed)
    gen = load_generator(run_dir, cache=cache, device=device)
    pieces = gen.stream(
        prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, seed=seed
    )
    return "".join(pieces)
