"""The vision models of the gallery against plain-PyTorch references, value for value.

torchvision is not a dependency, so each reference here is written out with torchvision's
module structure and attribute names (MobileNetV2, EfficientNet-B0, ViT-B/16) or, for the
original U-Net, which torchvision does not have, the paper's architecture. Each reference
counts the published parameters at full size (on the meta device: nothing is allocated), and
torch counts the same MACs for it as for the spec; the spec, given the reference's weights by
a ``state_dict`` key mapping, computes the same outputs in eval mode on a reduced model.
"""

from __future__ import annotations

import pathlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from zoo_figures import PUBLISHED

import netspec

ZOO = pathlib.Path(__file__).parent.parent / "specs" / "zoo"


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """These models run many tiny convolutions: on a busy machine, synchronising torch's
    intra-op threads costs a hundred times the arithmetic (seconds per forward), one thread
    milliseconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def meta_counts(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, int]:
    """(parameters, MACs at batch 1) of a module built on the meta device."""
    with FlopCounterMode(display=False) as counter:
        model(torch.empty(1, *shape, device="meta"))
    return sum(t.numel() for t in model.parameters()), counter.get_total_flops() // 2


def randomize_layer_norms(model: nn.Module) -> None:
    """Layer norms that are not the identity."""
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.normal_(module.bias, std=0.1)


def calibrate_norms(model: nn.Module, x: torch.Tensor) -> None:
    """Batch norms whose running statistics are those of ``x`` as it flows through the
    model, with weights in [0.5, 2] and biases of std 1: each norm's output then reaches
    every part of the activations that follow (a few percent of ReLU6's inputs exceed 6,
    so a plain ReLU in its place changes the output), and the signal neither dies out nor
    explodes through the depth."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.momentum = 1.0  # the running statistics become the batch's
    model.train()
    with torch.no_grad():
        model(x)
    for norm in norms:
        norm.momentum = 0.1
        nn.init.uniform_(norm.weight, 0.5, 2.0)
        nn.init.normal_(norm.bias, std=1.0)


def load_mapped(
    model: nn.Module, reference: nn.Module, key: Callable[[str], str]
) -> dict[str, torch.Tensor]:
    """Copies the reference's weights into ``model`` by ``key`` (netspec key -> reference key),
    checking that the mapping is one to one; returns the reference's state_dict."""
    ours, theirs = model.state_dict(), reference.state_dict()
    mapping = {k: key(k) for k in ours}
    assert sorted(mapping.values()) == sorted(theirs)  # one to one, nothing left over
    model.load_state_dict(
        {k: theirs[v].reshape(ours[k].shape) for k, v in mapping.items()}, strict=True
    )
    return theirs


def assert_same_outputs(model: nn.Module, reference: nn.Module, x: torch.Tensor) -> None:
    model.eval()
    reference.eval()
    with torch.no_grad():
        expected = reference(x)
        got = model(x)
    assert got.shape == expected.shape
    assert expected.abs().max() > 0.01  # a real signal, not a collapsed one
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


class ConvNormActivation(nn.Sequential):
    """torchvision.ops.Conv2dNormActivation: conv (padding (k - 1) // 2, no bias), BN, act."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: type[nn.Module] | None = nn.ReLU6,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, kernel_size, stride, (kernel_size - 1) // 2, groups=groups,
                      bias=False),
            nn.BatchNorm2d(cout),
        ]  # fmt: skip
        if activation is not None:
            layers.append(activation())
        super().__init__(*layers)


# --- MobileNetV2 --------------------------------------------------------------------------


class InvertedResidual(nn.Module):
    """torchvision.models.mobilenetv2.InvertedResidual."""

    def __init__(self, cin: int, cout: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = cin * t
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if t != 1:
            layers.append(ConvNormActivation(cin, hidden, 1))
        layers += [
            ConvNormActivation(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(x)
        return x + out if self.use_res_connect else out


# torchvision's inverted_residual_setting: expansion t, channels c, blocks n, first stride s
MOBILENET_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                      (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip


class MobileNetV2(nn.Module):
    """torchvision.models.mobilenet_v2 (width 1.0), the same modules under the same names."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        features: list[nn.Module] = [ConvNormActivation(3, 32, stride=2)]
        cin = 32
        for t, c, n, s in MOBILENET_SETTINGS:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(ConvNormActivation(cin, 1280, 1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1)
        logits: torch.Tensor = self.classifier(x)
        return logits


MOBILENET_LAYERS = {  # netspec's name in a block -> torchvision's index in `conv`
    "expand_conv": "0.0", "expand_bn": "0.1", "dw_conv": "1.0", "dw_bn": "1.1",
    "project_conv": "2", "project_bn": "3",
}  # fmt: skip
MOBILENET_T1_LAYERS = {"dw_conv": "0.0", "dw_bn": "0.1", "project_conv": "1", "project_bn": "2"}


def mobilenet_key(key: str) -> str:
    """`features3.conv.dw_conv.weight` -> `features.3.conv.1.0.weight`,
    `features1.project_bn.bias` -> `features.1.conv.2.bias`, `features0.bn.weight` ->
    `features.0.1.weight`, `classifier.weight` -> `classifier.1.weight`."""
    if key.startswith("classifier."):
        return key.replace("classifier.", "classifier.1.", 1)
    match = re.fullmatch(r"features(\d+)\.(?:conv\.)?(\w+)\.(\w+)", key)
    assert match is not None, key
    index, layer, tensor = match.groups()
    if layer in ("conv", "bn"):  # the stem and the last 1x1 convolution
        return f"features.{index}.{0 if layer == 'conv' else 1}.{tensor}"
    table = MOBILENET_T1_LAYERS if index == "1" else MOBILENET_LAYERS
    return f"features.{index}.conv.{table[layer]}.{tensor}"


def test_mobilenet_v2_reference_counts_the_published_params_and_macs() -> None:
    with torch.device("meta"):
        reference = MobileNetV2()
    published = PUBLISHED["mobilenet_v2"]
    assert meta_counts(reference, (3, 224, 224)) == (published.params, published.macs)


def test_mobilenet_v2_computes_what_torchvision_layout_computes() -> None:
    torch.manual_seed(0)
    reference = MobileNetV2()
    calibrate_norms(reference, torch.randn(4, 3, 48, 48))
    # A small image keeps this fast; every layer of the 224x224 model is still used, and the
    # last stages still have 2x2 maps, so every weight of their 3x3 kernels matters.
    spec = netspec.load_spec(ZOO / "mobilenet_v2.yaml", overrides=["input=[3, 48, 48]"])
    model = netspec.build_model(spec, seed=1)
    theirs = load_mapped(model, reference, mobilenet_key)
    copied = model.state_dict()["features5.conv.dw_bn.running_var"]
    assert torch.equal(copied, theirs["features.5.conv.1.1.running_var"])
    assert_same_outputs(model, reference, torch.randn(2, 3, 48, 48))


# --- EfficientNet-B0 ----------------------------------------------------------------------


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation with SiLU: input * sigmoid(fc2(silu(fc1(avgpool))))."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.SiLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        gate: torch.Tensor = self.scale_activation(scale)  # (N, C, 1, 1)
        return x * gate


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth(p, "row"): each sample's input is zeroed with
    probability p while training, the survivors scaled by 1 / (1 - p)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        noise = x.new_empty([x.shape[0]] + [1] * (x.ndim - 1)).bernoulli_(survival)
        return x * noise.div_(survival)


class MBConv(nn.Module):
    """torchvision.models.efficientnet.MBConv (expansion, depthwise, SE, projection)."""

    def __init__(self, t: int, k: int, stride: int, cin: int, cout: int, sd_prob: float) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        hidden = cin * t  # torchvision's _make_divisible(cin * t, 8): all multiples of 8 in B0
        layers: list[nn.Module] = []
        if hidden != cin:
            layers.append(ConvNormActivation(cin, hidden, 1, activation=nn.SiLU))
        layers += [
            ConvNormActivation(hidden, hidden, k, stride, groups=hidden, activation=nn.SiLU),
            SqueezeExcitation(hidden, max(1, cin // 4)),  # the block input's channels // 4
            ConvNormActivation(hidden, cout, 1, activation=None),
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.block(x)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + x
        return result


# torchvision's MBConvConfig for B0: expansion, kernel, stride, in and out channels, blocks
EFFICIENTNET_SETTINGS = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
                         (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
                         (6, 3, 1, 192, 320, 1))  # fmt: skip


class EfficientNetB0(nn.Module):
    """torchvision.models.efficientnet_b0, the same modules under the same names."""

    def __init__(self, classes: int = 1000, stochastic_depth_prob: float = 0.2) -> None:
        super().__init__()
        features: list[nn.Module] = [ConvNormActivation(3, 32, stride=2, activation=nn.SiLU)]
        total = sum(s[-1] for s in EFFICIENTNET_SETTINGS)
        block_id = 0
        for t, k, stride, cin, cout, n in EFFICIENTNET_SETTINGS:
            stage: list[nn.Module] = []
            for i in range(n):
                # torchvision: sd_prob = stochastic_depth_prob * stage_block_id / total
                sd_prob = stochastic_depth_prob * float(block_id) / total
                stage.append(MBConv(t, k, stride if i == 0 else 1, cin if i == 0 else cout,
                                    cout, sd_prob))  # fmt: skip
                block_id += 1
            features.append(nn.Sequential(*stage))
        features.append(ConvNormActivation(320, 1280, 1, activation=nn.SiLU))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        logits: torch.Tensor = self.classifier(x)
        return logits


EFFICIENTNET_LAYERS = {  # netspec's name in a block -> torchvision's index in `block`
    "expand_conv": "0.0", "expand_bn": "0.1", "dw_conv": "1.0", "dw_bn": "1.1",
    "se_fc1": "2.fc1", "se_fc2": "2.fc2", "project_conv": "3.0", "project_bn": "3.1",
}  # fmt: skip
EFFICIENTNET_T1_LAYERS = {  # the first block has no expansion
    "dw_conv": "0.0", "dw_bn": "0.1", "se_fc1": "1.fc1", "se_fc2": "1.fc2",
    "project_conv": "2.0", "project_bn": "2.1",
}  # fmt: skip


def efficientnet_key(key: str) -> str:
    """`features2_1.block.se_fc1.weight` -> `features.2.1.block.2.fc1.weight`,
    `features8.bn.bias` -> `features.8.1.bias`, `classifier.weight` -> `classifier.1.weight`."""
    if key.startswith("classifier."):
        return key.replace("classifier.", "classifier.1.", 1)
    match = re.fullmatch(r"features(\d+)(?:_(\d+))?\.(?:block\.)?(\w+)\.(\w+)", key)
    assert match is not None, key
    stage, index, layer, tensor = match.groups()
    if index is None:  # the stem and the last 1x1 convolution
        return f"features.{stage}.{0 if layer == 'conv' else 1}.{tensor}"
    table = EFFICIENTNET_T1_LAYERS if stage == "1" else EFFICIENTNET_LAYERS
    return f"features.{stage}.{index}.block.{table[layer]}.{tensor}"


def test_efficientnet_b0_reference_counts_the_published_params_and_macs() -> None:
    with torch.device("meta"):
        reference = EfficientNetB0()
    published = PUBLISHED["efficientnet_b0"]
    assert meta_counts(reference, (3, 224, 224)) == (published.params, published.macs)


def test_efficientnet_b0_has_torchvision_stochastic_depth() -> None:
    """Each shortcut block drops its body with torchvision's probability, 0.2 * k / 16 for
    the k-th block (counted from 0 over all stages, shortcut or not)."""
    with torch.device("meta"):
        reference = EfficientNetB0()
        model = netspec.build_model(netspec.load_spec(ZOO / "efficientnet_b0.yaml"))
    expected = {}
    for name, module in reference.named_modules():
        if isinstance(module, MBConv) and module.use_res_connect:
            stage, index = name.split(".")[1:]
            expected[f"features{stage}_{index}"] = module.stochastic_depth.p
    got = {
        name.split(".")[0]: float(getattr(module, "p"))  # noqa: B009
        for name, module in model.named_modules()
        if name.endswith(".drop_path_0")
    }
    assert got == pytest.approx(expected, abs=1e-12)
    assert len(got) == 9
    assert got["features2_1"] == pytest.approx(0.2 * 2 / 16)
    assert got["features6_3"] == pytest.approx(0.2 * 14 / 16)


def test_efficientnet_b0_computes_what_torchvision_layout_computes() -> None:
    torch.manual_seed(0)
    reference = EfficientNetB0()
    calibrate_norms(reference, torch.randn(4, 3, 48, 48))
    # 48x48: the last stages' maps are 2x2, so the 5x5 kernels' outer taps are used too
    spec = netspec.load_spec(ZOO / "efficientnet_b0.yaml", overrides=["input=[3, 48, 48]"])
    model = netspec.build_model(spec, seed=1)
    theirs = load_mapped(model, reference, efficientnet_key)
    copied = model.state_dict()["features6_3.block.se_fc1.weight"]
    assert copied.shape == (48, 1152, 1, 1)  # squeezed to the block input's 192 // 4
    assert torch.equal(copied, theirs["features.6.3.block.2.fc1.weight"])
    assert_same_outputs(model, reference, torch.randn(2, 3, 48, 48))


# --- ViT-B/16 -----------------------------------------------------------------------------


class EncoderBlock(nn.Module):
    """torchvision.models.vision_transformer.EncoderBlock (pre-norm, LayerNorm eps 1e-6)."""

    def __init__(self, hidden: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(hidden, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.dropout = nn.Dropout(0.0)
        self.ln_2 = nn.LayerNorm(hidden, eps=1e-6)
        # MLPBlock: Linear, GELU, Dropout, Linear, Dropout
        self.mlp = nn.Sequential(
            nn.Linear(hidden, mlp), nn.GELU(), nn.Dropout(0.0), nn.Linear(mlp, hidden),
            nn.Dropout(0.0),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + self.dropout(y)
        out: torch.Tensor = x + self.mlp(self.ln_2(x))
        return out


class Encoder(nn.Module):
    """torchvision.models.vision_transformer.Encoder."""

    def __init__(self, positions: int, depth: int, hidden: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, positions, hidden).normal_(std=0.02))
        self.dropout = nn.Dropout(0.0)
        blocks: OrderedDict[str, nn.Module] = OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(hidden, heads, mlp)) for i in range(depth)
        )
        self.layers = nn.Sequential(blocks)
        self.ln = nn.LayerNorm(hidden, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.ln(self.layers(self.dropout(x + self.pos_embedding)))
        return out


class VisionTransformer(nn.Module):
    """torchvision.models.VisionTransformer, the same modules under the same names."""

    def __init__(
        self,
        image: int = 224,
        patch: int = 16,
        depth: int = 12,
        heads: int = 12,
        hidden: int = 768,
        mlp: int = 3072,
        classes: int = 1000,
    ) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv_proj = nn.Conv2d(3, hidden, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, hidden))
        self.encoder = Encoder((image // patch) ** 2 + 1, depth, hidden, heads, mlp)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(hidden, classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, self.hidden, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        logits: torch.Tensor = self.heads(self.encoder(x)[:, 0])
        return logits


VIT_LAYERS = {"self_attn": "self_attention", "linear1": "mlp.0", "linear2": "mlp.3",
              "norm1": "ln_1", "norm2": "ln_2"}  # fmt: skip


def vit_key(key: str) -> str:
    """`encoder.layers.3.self_attn.in_proj_weight` ->
    `encoder.layers.encoder_layer_3.self_attention.in_proj_weight` (nn.MultiheadAttention's
    packed q, k, v projection on both sides), `encoder.layers.0.linear1.bias` ->
    `...encoder_layer_0.mlp.0.bias`, `class_token.token` -> `class_token`,
    `pos_embedding.weight` (197, 768) -> `encoder.pos_embedding` (1, 197, 768),
    `ln.weight` -> `encoder.ln.weight`, `head.bias` -> `heads.head.bias`."""
    fixed = {"class_token.token": "class_token", "pos_embedding.weight": "encoder.pos_embedding"}
    if key in fixed:
        return fixed[key]
    if key.startswith("conv_proj."):
        return key
    if key.startswith(("ln.", "head.")):
        return ("encoder." if key.startswith("ln.") else "heads.") + key
    match = re.fullmatch(r"encoder\.layers\.(\d+)\.(\w+)\.(.+)", key)
    assert match is not None, key
    index, layer, rest = match.groups()
    return f"encoder.layers.encoder_layer_{index}.{VIT_LAYERS[layer]}.{rest}"


SMALL_VIT = {"image": 32, "patch": 8, "hidden": 64, "depth": 2, "heads": 4, "mlp": 128,
             "classes": 10}  # fmt: skip


def test_vit_b_16_reference_counts_the_published_params_and_macs() -> None:
    with torch.device("meta"):
        reference = VisionTransformer()
    published = PUBLISHED["vit_b_16"]
    assert meta_counts(reference, (3, 224, 224)) == (published.params, published.macs)


def test_vit_computes_what_torchvision_layout_computes() -> None:
    torch.manual_seed(0)
    reference = VisionTransformer(**SMALL_VIT)
    nn.init.normal_(reference.class_token, std=0.5)  # torchvision starts it at zeros
    randomize_layer_norms(reference)
    overrides = [f"vars.{k}={v}" for k, v in SMALL_VIT.items()]
    spec = netspec.load_spec(ZOO / "vit_b_16.yaml", overrides=overrides)
    model = netspec.build_model(spec, seed=1)
    eps = {m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)}
    assert eps == {1e-6}  # both norms of every layer and the final one
    theirs = load_mapped(model, reference, vit_key)
    copied = model.state_dict()["encoder.layers.1.self_attn.in_proj_weight"]
    assert copied.shape == (3 * 64, 64)
    assert torch.equal(
        copied, theirs["encoder.layers.encoder_layer_1.self_attention.in_proj_weight"]
    )
    assert_same_outputs(model, reference, torch.randn(2, 3, 32, 32))


# --- the original U-Net -------------------------------------------------------------------


def crop_like(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The middle of ``x``'s spatial dims at ``like``'s size; an odd extra row or column is
    cut from the bottom or right (Caffe's crop layer with offset (H - h) // 2)."""
    (h, w), (th, tw) = x.shape[-2:], like.shape[-2:]
    top, left = (h - th) // 2, (w - tw) // 2
    return x[..., top : top + th, left : left + tw]


class DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3)  # unpadded: each takes 2 pixels off
        self.conv2 = nn.Conv2d(cout, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x))))


class Up(nn.Module):
    """2x2 up-convolution halving the channels, the cropped skip concatenated, two convs."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.upconv = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
        self.conv1 = nn.Conv2d(cin, cin // 2, 3)
        self.conv2 = nn.Conv2d(cin // 2, cin // 2, 3)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.upconv(x)
        x = torch.cat([crop_like(skip, up), up], dim=1)
        return torch.relu(self.conv2(torch.relu(self.conv1(x))))


class UNet(nn.Module):
    """Ronneberger et al. 2015, Fig. 1, in plain PyTorch (biased convolutions, no norms)."""

    def __init__(self, base: int = 64, classes: int = 2) -> None:
        super().__init__()
        self.down1 = DoubleConv(1, base)
        self.down2 = DoubleConv(base, base * 2)
        self.down3 = DoubleConv(base * 2, base * 4)
        self.down4 = DoubleConv(base * 4, base * 8)
        self.bottom = DoubleConv(base * 8, base * 16)
        self.up4 = Up(base * 16)
        self.up3 = Up(base * 8)
        self.up2 = Up(base * 4)
        self.up1 = Up(base * 2)
        self.final = nn.Conv2d(base, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = nn.functional.max_pool2d
        d1 = self.down1(x)
        d2 = self.down2(pool(d1, 2))
        d3 = self.down3(pool(d2, 2))
        d4 = self.down4(pool(d3, 2))
        x = self.bottom(pool(d4, 2))
        x = self.up1(self.up2(self.up3(self.up4(x, d4), d3), d2), d1)
        out: torch.Tensor = self.final(x)
        return out


def test_unet_reference_counts_the_figures_of_the_gallery() -> None:
    with torch.device("meta"):
        reference = UNet()
        y = reference(torch.empty(1, 1, 572, 572))
    assert tuple(y.shape[1:]) == PUBLISHED["unet"].outputs[0] == (2, 388, 388)  # Fig. 1
    published = PUBLISHED["unet"]
    assert meta_counts(reference, (1, 572, 572)) == (published.params, published.macs)


@pytest.mark.parametrize(
    ("size", "skip"),
    [
        (188, 88),  # as in the paper, every crop removes an even number of rows
        (190, 89),  # down2's 89 rows cropped to 8 at up2: 40 off the top, 41 off the bottom
    ],
)
def test_unet_computes_what_the_plain_reference_computes(size: int, skip: int) -> None:
    torch.manual_seed(0)
    reference = UNet(base=4)
    spec = netspec.load_spec(
        ZOO / "unet.yaml", overrides=["vars.base=4", f"input=[1, {size}, {size}]"]
    )
    crop = next(r for r in netspec.plan(spec).layers if r.name == "up2.crop")
    assert crop.in_shapes == ((8, skip, skip), (8, 8, 8))
    model = netspec.build_model(spec, seed=1)
    load_mapped(model, reference, lambda key: key)  # the reference uses the spec's names
    x = torch.randn(2, 1, size, size)
    assert_same_outputs(model, reference, x)
    assert model(x).shape == (2, 2, 4, 4)
