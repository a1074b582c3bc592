"""Tokenizers of language-model data: text <-> token ids, saved with a run as tokenizer.json.

- ``char``: one token per character of an alphabet (the corpus's characters, sorted, or a
  synthetic language's symbols), after the special tokens.
- ``byte``: one token per UTF-8 byte (ids 0..255), then the special tokens.
- ``bpe``: a byte-level BPE trained on the corpus with Hugging Face's ``tokenizers``
  (the optional extra ``netspec[lm]``), GPT-2's scheme: any text encodes, nothing is unknown.

Every tokenizer has an end-of-sequence token ``<eos>`` (between documents, and after the
answer of a synthetic problem, where generation stops); a synthetic language also has
``<pad>`` to fill its fixed-length samples. Special tokens never come out of ``encode``: a
prompt's ``<eos>`` is five characters like any other.

``IGNORE`` marks a target position that is not trained (padding, the prompt of a problem):
it is torch's ``cross_entropy`` default ``ignore_index``. Nothing here imports torch or numpy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

IGNORE = -100
"""The target id of positions the loss and the metrics skip (torch's ignore_index)."""

EOS = "<eos>"
PAD = "<pad>"
FILE = "tokenizer.json"
"""The tokenizer's file in a run directory."""

Kind = Literal["char", "byte", "bpe"]
KINDS: tuple[str, ...] = ("char", "byte", "bpe")
BPE_EXTRA = "lm"
"""The optional extra that brings Hugging Face's tokenizers."""


class TokenizerError(ValueError):
    """Text the tokenizer cannot encode (a character outside a char tokenizer's alphabet), a
    broken tokenizer file, or a missing optional package; the message says which."""


class Tokenizer(Protocol):
    kind: str

    @property
    def vocab_size(self) -> int: ...

    @property
    def eos_id(self) -> int: ...

    @property
    def pad_id(self) -> int | None: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


class CharTokenizer:
    """Specials first (``<pad>`` when asked for, then ``<eos>``), then one id per character."""

    kind = "char"

    def __init__(self, alphabet: Iterable[str], *, pad: bool = False) -> None:
        chars = list(dict.fromkeys(alphabet))
        bad = [c for c in chars if len(c) != 1]
        if bad:
            raise TokenizerError(
                f"a char tokenizer's alphabet holds single characters, not {bad[0]!r}"
            )
        self.specials = (PAD, EOS) if pad else (EOS,)
        self.alphabet = chars
        self._ids = {c: i + len(self.specials) for i, c in enumerate(chars)}

    @classmethod
    def of_text(cls, texts: Iterable[str]) -> CharTokenizer:
        """The sorted characters of ``texts``."""
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        return cls(sorted(seen))

    @property
    def vocab_size(self) -> int:
        return len(self.specials) + len(self.alphabet)

    @property
    def eos_id(self) -> int:
        return self.specials.index(EOS)

    @property
    def pad_id(self) -> int | None:
        return self.specials.index(PAD) if PAD in self.specials else None

    def encode(self, text: str) -> list[int]:
        try:
            return [self._ids[c] for c in text]
        except KeyError as missing:
            char = missing.args[0]
            known = "".join(self.alphabet)
            shown = known if len(known) <= 300 else known[:297] + "..."
            raise TokenizerError(
                f"{char!r} is not in the tokenizer's alphabet ({len(self.alphabet)} characters: "
                f"{shown!r})"
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        n = len(self.specials)
        out = []
        for i in ids:
            if 0 <= i < n:
                out.append(self.specials[i])
            elif n <= i < self.vocab_size:
                out.append(self.alphabet[i - n])
            else:
                out.append("\ufffd")
        return "".join(out)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "char", "alphabet": "".join(self.alphabet), "pad": PAD in self.specials}


class ByteTokenizer:
    """Ids 0..255 are the UTF-8 bytes; ``<eos>`` is 256 (vocabulary 257)."""

    kind = "byte"

    @property
    def vocab_size(self) -> int:
        return 257

    @property
    def eos_id(self) -> int:
        return 256

    @property
    def pad_id(self) -> int | None:
        return None

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Sequence[int]) -> str:
        raw = bytearray()
        out: list[str] = []
        for i in ids:
            if 0 <= i < 256:
                raw.append(i)
                continue
            out.append(raw.decode("utf-8", errors="replace"))
            raw.clear()
            out.append(EOS if i == 256 else "\ufffd")
        out.append(raw.decode("utf-8", errors="replace"))
        return "".join(out)

    def to_json(self) -> dict[str, Any]:
        return {"kind": "byte"}


class BPETokenizer:
    """A Hugging Face ``tokenizers.Tokenizer`` (byte-level BPE) with ``<eos>``."""

    kind = "bpe"

    def __init__(self, hf: Any) -> None:
        self.hf = hf
        eos = hf.token_to_id(EOS)
        if eos is None:
            raise TokenizerError(f"the BPE tokenizer has no {EOS} token")
        self._eos = int(eos)
        # Hugging Face matches special tokens in the text itself: without this, the five
        # characters "<eos>" of a corpus or prompt would encode as the <eos> token.
        try:
            hf.encode_special_tokens = True
        except AttributeError:  # before tokenizers 0.15.1
            raise TokenizerError(
                f"the bpe tokenizer needs tokenizers 0.15.1 or later: pip install -U "
                f"'netspec[{BPE_EXTRA}]'"
            ) from None

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> BPETokenizer:
        """A byte-level BPE of at most ``vocab_size`` tokens (the 256 bytes, ``<eos>`` and
        the merges the corpus supports), trained on ``texts``."""
        lib = hf_tokenizers()
        hf = lib.Tokenizer(lib.models.BPE())
        hf.pre_tokenizer = lib.pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = lib.decoders.ByteLevel()
        trainer = lib.trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[EOS],
            initial_alphabet=lib.pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        hf.train_from_iterator(texts, trainer)
        return cls(hf)

    @property
    def vocab_size(self) -> int:
        return int(self.hf.get_vocab_size())

    @property
    def eos_id(self) -> int:
        return self._eos

    @property
    def pad_id(self) -> int | None:
        return None

    def encode(self, text: str) -> list[int]:
        return list(self.hf.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.hf.decode(list(ids), skip_special_tokens=False))

    def to_json(self) -> dict[str, Any]:
        return {"kind": "bpe", "tokenizers": json.loads(self.hf.to_str())}


def never_generated(tokenizer: Tokenizer) -> tuple[int, ...]:
    """The special ids a model is never to produce (``<pad>`` only fills samples); with the
    ids from ``vocab_size`` on, what generation and exact_match leave out."""
    return () if tokenizer.pad_id is None else (tokenizer.pad_id,)


def hf_tokenizers() -> Any:
    """Hugging Face's ``tokenizers`` package, or an error naming the extra to install."""
    try:
        import tokenizers
    except ImportError:
        raise TokenizerError(
            "the bpe tokenizer needs Hugging Face's tokenizers package, which is not "
            f"installed: pip install 'netspec[{BPE_EXTRA}]'"
        ) from None
    return tokenizers


def from_json(data: Any) -> Tokenizer:
    """A tokenizer from what ``to_json`` gave; TokenizerError for anything else."""
    if not isinstance(data, dict) or data.get("kind") not in KINDS:
        raise TokenizerError("not a netspec tokenizer (no kind char, byte or bpe)")
    kind = data["kind"]
    if kind == "byte":
        return ByteTokenizer()
    if kind == "char":
        alphabet, pad = data.get("alphabet"), data.get("pad", False)
        if not isinstance(alphabet, str) or not isinstance(pad, bool):
            raise TokenizerError("a char tokenizer needs its alphabet (a string)")
        return CharTokenizer(alphabet, pad=pad)
    body = data.get("tokenizers")
    if not isinstance(body, dict):
        raise TokenizerError("a bpe tokenizer needs its Hugging Face tokenizer (a mapping)")
    lib = hf_tokenizers()
    try:
        hf = lib.Tokenizer.from_str(json.dumps(body))
    except Exception as exc:  # the library's own parse errors
        raise TokenizerError(f"the Hugging Face tokenizer does not load: {exc}") from None
    return BPETokenizer(hf)


def dumps(tokenizer: Tokenizer) -> str:
    """The tokenizer as JSON text (a run directory writes it atomically: RunDir)."""
    return json.dumps(tokenizer.to_json(), ensure_ascii=False, indent=1)


def loads(text: str) -> Tokenizer:
    """A tokenizer from ``dumps``'s text; TokenizerError for anything else."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TokenizerError(f"not JSON: {exc}") from None
    return from_json(data)


def load(path: str | Path) -> Tokenizer:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenizerError(f"cannot read the tokenizer {path}: {exc}") from None
    return loads(text)
