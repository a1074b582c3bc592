"""The published figures of every spec in specs/zoo/, for tests/test_zoo*.py and the gallery.

A zoo spec belongs here with the parameter count its reference publishes and the exact MACs
torch counts for it (FlopCounterMode total / 2 at batch 1, with ``sizes`` for its symbolic
dimensions); ``gmacs`` is the reference's own MAC figure where it publishes one (torchvision's
"GFLOPS" column counts multiply-accumulates), which the exact count must round to.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Published:
    params: int  # the reference's published parameter count
    macs: int  # the exact count: FlopCounterMode total / 2 on torch 2.13, at batch 1
    gmacs: float | None = None  # the reference's published GMACs, if it has one
    source: str = "torchvision"  # where `params` (and `gmacs`) come from
    equal_output: bool = False  # a test compares outputs with a plain-PyTorch reference
    sizes: dict[str, int] = field(default_factory=dict)  # symbol sizes for `macs`
    outputs: tuple[tuple[int, ...], ...] = ((1000,),)  # per-sample output shapes (at sizes)


# https://pytorch.org/vision/stable/models.html#table-of-all-available-classification-weights
PUBLISHED: dict[str, Published] = {
    "resnet18": Published(11_689_512, 1_814_073_344, 1.81, equal_output=True),
    "resnet50": Published(25_557_032, 4_089_184_256, 4.09),
    "vgg16": Published(138_357_544, 15_470_264_320, 15.47),
    "densenet121": Published(7_978_856, 2_834_161_664, 2.83),
    # https://huggingface.co/bert-base-uncased: BertModel (with its pooler), outputs
    # (last_hidden_state, pooler_output); parameters as `sum(p.numel() ...)` counts them
    "bert_base": Published(
        109_482_240,
        11_174_215_680,
        source="Hugging Face bert-base-uncased (BertModel with pooler)",
        equal_output=True,
        sizes={"T": 128},
        outputs=((128, 768), (768,)),
    ),
    # https://huggingface.co/gpt2: GPT2Model, and GPT2LMHeadModel (its head is tied to wte)
    "gpt2": Published(
        124_439_808,
        145_824_153_600,
        source="Hugging Face gpt2 (GPT2LMHeadModel, head tied to wte)",
        equal_output=True,
        sizes={"T": 1024},
        outputs=((1024, 50257),),
    ),
    # https://huggingface.co/gpt2-medium and https://huggingface.co/gpt2-large: the same
    # architecture wider and deeper (GPT2LMHeadModel, head tied to wte)
    "gpt2_medium": Published(
        354_823_168,
        413_475_536_896,
        source="Hugging Face gpt2-medium (GPT2LMHeadModel, head tied to wte)",
        sizes={"T": 1024},
        outputs=((1024, 50257),),
    ),
    "gpt2_large": Published(
        774_030_080,
        887_285_350_400,
        source="Hugging Face gpt2-large (GPT2LMHeadModel, head tied to wte)",
        sizes={"T": 1024},
        outputs=((1024, 50257),),
    ),
    # sum(p.numel() for p in torch.nn.Transformer().parameters())
    "transformer_seq2seq": Published(
        44_140_544,
        1_428_160_512,
        source="torch.nn.Transformer()",
        equal_output=True,
        sizes={"S": 32, "T": 32},
        outputs=((32, 512),),
    ),
    "mobilenet_v2": Published(3_504_872, 300_774_272, 0.30, equal_output=True),
    "efficientnet_b0": Published(5_288_548, 385_814_752, 0.39, equal_output=True),
    "vit_b_16": Published(86_567_656, 17_563_828_224, 17.56, equal_output=True),
    # No torchvision figure: the parameter count is the paper's architecture (Fig. 1) with
    # biased convolutions, as counted by the plain-PyTorch reference in tests/test_zoo_vision.py.
    "unet": Published(
        31_030_658,
        150_428_424_448,
        source="Ronneberger et al. 2015 (plain-PyTorch reference in tests)",
        equal_output=True,
        outputs=((2, 388, 388),),
    ),
}
