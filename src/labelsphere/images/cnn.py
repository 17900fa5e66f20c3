"""A small CNN trained from scratch on grayscale renders: the end-to-end setting of the paper.

Chollet (2016) trained whole networks through the label-embedding head on 300M images. To test
that regime on this project's machines, :class:`PixelCNN` learns from 32-48 px grayscale icon
renders (``labelsphere.data.renders``), every head on the same network. It is a ResNet-style
design (He et al., 2016) sized for 2 CPU cores: a 3 x 3 stem at full resolution, then one basic
residual block per width, the first at stride 1 and each later one at stride 2 (32 px: 32, 16,
8, 4), batch norm and ReLU, global average pooling. At the default widths (16, 32, 64, 128) it
has 0.3M parameters and about 16M multiply-adds per 32 px image.

At 224 px that full-resolution stem leaves the last features seeing 49 x 49 pixels, a fifth of
the icon, at 50x the 32 px cost. ``stem_stride=4`` is ResNet's stem instead (a 7 x 7 convolution
at stride 2, then a 3 x 3 max pool at stride 2): the blocks run at 56, 28, 14, 7 px, each last
feature sees 194 x 194 pixels, and a 224 px image costs 58M multiply-adds instead of 778M.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["PIXEL_CNN", "STEM_STRIDES", "BasicBlock", "PixelCNN"]

# The backbone name a TrainConfig uses for this network (not a timm model: no weights exist).
PIXEL_CNN = "pixel-cnn"
# How far the stem downsamples before the residual stages.
STEM_STRIDES = (1, 2, 4)


class BasicBlock(nn.Module):
    """Two 3 x 3 convolutions with batch norm and a residual connection.

    Shape: (B, C_in, H, W) -> (B, C_out, H / stride, W / stride); the shortcut is a 1 x 1
    convolution where the shape changes.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


class PixelCNN(nn.Module):
    """Grayscale renders (B, H, W), pixel values 0-255 (255 = white) -> features (B, widths[-1]).

    Args:
        widths: channels of the stem and of each residual stage.
        stem_stride: 1 (a 3 x 3 stem at full resolution, for 32-48 px), 2 (a 7 x 7 stem at
            stride 2) or 4 (the same, then a 3 x 3 max pool at stride 2, for 224 px).

    Shape:
        - forward: (B, H, W) or (B, 1, H, W), any numeric dtype -> (B, F), F = ``widths[-1]``.

    Examples:
        >>> net = PixelCNN()
        >>> net(torch.full((2, 32, 32), 255, dtype=torch.uint8)).shape
        torch.Size([2, 128])
        >>> PixelCNN(stem_stride=4)(torch.zeros((2, 224, 224), dtype=torch.uint8)).shape
        torch.Size([2, 128])
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128), stem_stride: int = 1) -> None:
        super().__init__()
        if not widths or any(int(w) < 1 for w in widths):
            raise ValueError(f"widths must be positive integers, got {widths!r}")
        if stem_stride not in STEM_STRIDES:
            raise ValueError(f"stem_stride must be one of {STEM_STRIDES}, got {stem_stride!r}")
        self.widths = tuple(int(w) for w in widths)
        self.stem_stride = stem_stride
        c0 = self.widths[0]
        if stem_stride == 1:
            stem: list[nn.Module] = [nn.Conv2d(1, c0, 3, 1, 1, bias=False)]
        else:
            stem = [nn.Conv2d(1, c0, 7, 2, 3, bias=False)]
        stem += [nn.BatchNorm2d(c0), nn.ReLU(inplace=True)]
        if stem_stride == 4:
            stem.append(nn.MaxPool2d(3, 2, 1))
        self.stem = nn.Sequential(*stem)
        blocks, c = [], self.widths[0]
        for i, w in enumerate(self.widths):
            blocks.append(BasicBlock(c, w, 1 if i == 0 else 2))
            c = w
        self.blocks = nn.Sequential(*blocks)
        self.num_features = c
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        # Ink is what carries the shape: 0 on white, 1 on black.
        x = 1.0 - x.float() / 255.0
        return self.blocks(self.stem(x)).mean(dim=(2, 3))
