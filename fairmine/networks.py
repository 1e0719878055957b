"""Backbones for images: torch modules that end at their last hidden features.

The estimator adds the bottleneck to ``embedding_dim`` (``z``, a ReLU layer)
and the logit layer to whatever backbone it is given, so a backbone stops at
its last hidden features:

- [`DigitsCNN`][fairmine.networks.DigitsCNN] is the digits network of the paper's reference code
  (rugrag/learn-unbiased) up to its 512-unit layer; with ``embedding_dim=64``
  the estimator completes it exactly (fc 512 -> fc 64 = z -> fc 10).
- [`resnet_backbone`][fairmine.networks.resnet_backbone] turns a torchvision ResNet into its
  convolutional trunk; on 224 x 224 images a ResNet-50 trunk outputs 2048 x 7 x 7, and the
  estimator's bottleneck (a linear map of that whole map to 128 units, ReLU)
  is the reference code's 7 x 7 convolution to a 128-d bottleneck for IMDB.

The reference code's hyper-parameters per benchmark, and the classifier built
from them, live with the protocols in `fairmine.experiments`
(``REFERENCE_SETTINGS``, ``reference_classifier``): this module is torch
building blocks only and imports nothing from fairmine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "DigitsCNN",
    "resnet50_backbone",
    "resnet_backbone",
]


class DigitsCNN(nn.Sequential):
    """The paper's digits network up to its last hidden layer.

    conv 5x5, 64 filters -> ReLU -> max-pool 2 -> conv 5x5, 64 filters -> ReLU
    -> max-pool 2 -> fully connected 512 -> ReLU, with VALID padding and no
    normalisation, as in the reference code (rugrag/learn-unbiased).

    Parameters
    ----------
    in_channels : int, default=3
        Channels of the input images (3 for colored digits).
    image_size : int, default=28
        Height and width of the input images.
    hidden_units : int, default=512
        Width of the fully connected layer.

    Examples
    --------
    >>> import torch
    >>> from fairmine.networks import DigitsCNN
    >>> DigitsCNN()(torch.zeros(2, 3, 28, 28)).shape
    torch.Size([2, 512])
    """

    def __init__(self, in_channels: int = 3, image_size: int = 28, hidden_units: int = 512) -> None:
        side = ((image_size - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"image_size must be at least 16 for DigitsCNN, got {image_size}")
        super().__init__(
            nn.Conv2d(in_channels, 64, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * side * side, hidden_units),
            nn.ReLU(),
        )


class _Trunk(nn.Module):
    """A ResNet without its global pooling and classification layer."""

    def __init__(self, resnet: nn.Module) -> None:
        super().__init__()
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)
        self.layers = nn.Sequential(resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(self.stem(x))


def resnet_backbone(resnet: nn.Module) -> nn.Module:
    """Strip a torchvision ResNet of its pooling and classification layer.

    Parameters
    ----------
    resnet : torchvision.models.ResNet
        Any torchvision ResNet, with the weights you chose.

    Returns
    -------
    torch.nn.Module
        The convolutional trunk, mapping (N, 3, H, W) to (N, C, H/32, W/32).

    Examples
    --------
    >>> import torch
    >>> from torchvision.models import resnet18
    >>> from fairmine.networks import resnet_backbone
    >>> resnet_backbone(resnet18())(torch.zeros(1, 3, 64, 64)).shape
    torch.Size([1, 512, 2, 2])
    """
    missing = [
        name
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
        if not hasattr(resnet, name)
    ]
    if missing:
        raise TypeError(
            f"resnet must be a torchvision ResNet; {type(resnet).__name__} lacks {missing}"
        )
    return _Trunk(resnet)


def resnet50_backbone(weights: Any = None) -> nn.Module:
    """Build a ResNet-50 trunk, as the IMDB faces experiments use.

    Parameters
    ----------
    weights : None, str, path or torchvision ``ResNet50_Weights``, default=None
        None: random initialisation. A torchvision weights enum or its name
        (``"IMAGENET1K_V1"``, ``"DEFAULT"``): torchvision's ImageNet weights,
        which torchvision downloads on first use (a failed download raises
        ``ConnectionError`` with what to do offline). A path to a file holding a
        ResNet-50 ``state_dict`` (``.pt`` or ``.pth``, loaded with
        ``weights_only=True``).

    Returns
    -------
    torch.nn.Module
        The trunk (see [`resnet_backbone`][fairmine.networks.resnet_backbone]); 2048 x 7 x 7
        features on 224 x 224 images.

    Examples
    --------
    >>> from fairmine import MIUnbiasedClassifier
    >>> from fairmine.networks import resnet50_backbone
    >>> clf = MIUnbiasedClassifier(backbone=resnet50_backbone(), embedding_dim=128)
    """
    from torchvision.models import resnet50

    if isinstance(weights, Path) or (
        isinstance(weights, str) and Path(weights).suffix in (".pt", ".pth")
    ):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
        model = resnet50()
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as error:  # torch's errors name neither the file nor the cause
            cause = (str(error).splitlines() or [""])[0]
            raise ValueError(
                f"weights file {str(path)!r} does not hold a ResNet-50 state_dict saved with "
                f"torch.save ({type(error).__name__}: {cause}); "
                "save one with torch.save(torchvision.models.resnet50(weights=...)"
                ".state_dict(), path)"
            ) from error
        return resnet_backbone(model)
    try:
        model = resnet50(weights=weights)
    except OSError as error:  # urllib's URLError included: no network, proxy, full disk
        raise ConnectionError(
            f"torchvision could not fetch the ResNet-50 weights={weights!r} ({error}). "
            "Offline, use weights=None (random initialisation) or the path of a saved "
            "state_dict: on a machine with internet run "
            "torch.save(torchvision.models.resnet50(weights='IMAGENET1K_V1').state_dict(), "
            "'resnet50.pt') and pass weights='resnet50.pt' (or copy torch's cache to "
            "$TORCH_HOME)."
        ) from error
    return resnet_backbone(model)
