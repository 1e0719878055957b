"""The backbone path: images as arrays or as a Dataset, DigitsCNN, ResNet trunks."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from fairmine import MIUnbiasedClassifier
from fairmine.experiments import reference_classifier
from fairmine.mi import DonskerVaradhan
from fairmine.networks import DigitsCNN, resnet50_backbone, resnet_backbone


def test_networks_imports_nothing_from_fairmine():
    """The torch building blocks sit below the estimator: no import of fairmine in networks."""
    import ast
    import inspect

    import fairmine.networks

    tree = ast.parse(inspect.getsource(fairmine.networks))
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    relative = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
    assert not relative and not [m for m in imported if m.startswith("fairmine")], imported


# these tests check plumbing with fits of a few epochs, which DegenerateModelWarning rightly flags
pytestmark = pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")

FAST = {"max_epochs": 4, "penalty": DonskerVaradhan(steps=2, warmup_steps=2), "random_state": 0}


class TinyCNN(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())


@pytest.fixture
def colored_squares():
    """8x8 images whose colour (the attribute) is correlated with a shape label."""
    rng = np.random.RandomState(0)
    n = 96
    y = rng.randint(0, 2, n)
    colour = np.where(rng.rand(n) < 0.8, y, 1 - y)
    X = np.zeros((n, 3, 8, 8), dtype=np.float32)
    for i in range(n):
        if y[i]:
            X[i, colour[i], 2:6, 2:6] = 1.0  # a square
        else:
            X[i, colour[i], :, 3:5] = 1.0  # a bar
    return X, y, colour


class ArrayDataset(Dataset):
    """Streams (image, label) pairs; exposes targets and sensitive_features as metadata."""

    def __init__(self, X, y, c):
        self.X, self.targets, self.sensitive_features = X, y, c
        self.reads = 0

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        self.reads += 1
        return torch.from_numpy(self.X[i]), int(self.targets[i])


def test_backbone_on_image_arrays(colored_squares):
    X, y, colour = colored_squares
    backbone = TinyCNN()
    before = [p.clone() for p in backbone.parameters()]
    clf = MIUnbiasedClassifier(backbone=backbone, embedding_dim=6, lr=1e-2, **FAST)
    clf.fit(X, y, sensitive_features=colour)
    assert clf.transform(X).shape == (len(y), 6)
    assert clf.predict_proba(X).shape == (len(y), 2)
    assert clf.n_features_in_ == 3
    assert np.isfinite(clf.history_[:, "train_mi"]).all()
    # the module passed in is left untouched; the fitted copy is trained
    assert all(torch.equal(a, b) for a, b in zip(before, backbone.parameters(), strict=True))
    trained = clf.net_.module_.backbone
    assert trained is not backbone
    assert not all(torch.equal(a, b) for a, b in zip(before, trained.parameters(), strict=True))


def test_dataset_input_streams_and_reads_metadata(colored_squares):
    X, y, colour = colored_squares
    data = ArrayDataset(X, y, colour)
    clf = MIUnbiasedClassifier(backbone=TinyCNN(), embedding_dim=6, **FAST).fit(data)
    assert data.reads >= FAST["max_epochs"] * len(y)
    assert np.isfinite(clf.history_[:, "train_mi"]).all()
    from_dataset = clf.predict_proba(data)
    from_array = clf.predict_proba(X)
    np.testing.assert_allclose(from_dataset, from_array, rtol=1e-5, atol=1e-6)


def test_dataset_and_array_inputs_train_the_same_model(colored_squares):
    X, y, colour = colored_squares
    params = {"backbone": TinyCNN(), "embedding_dim": 6, **FAST}
    from_array = MIUnbiasedClassifier(**params).fit(X, y, sensitive_features=colour)
    from_dataset = MIUnbiasedClassifier(**params).fit(ArrayDataset(X, y, colour))
    np.testing.assert_allclose(
        from_array.predict_proba(X), from_dataset.predict_proba(X), rtol=1e-4, atol=1e-5
    )


def test_dataset_without_targets_needs_y(colored_squares):
    X, y, colour = colored_squares

    class Bare(Dataset):
        def __len__(self):
            return len(y)

        def __getitem__(self, i):
            return torch.from_numpy(X[i]), int(y[i])

    with pytest.raises(ValueError, match="without a 'targets' attribute: pass y="):
        MIUnbiasedClassifier(backbone=TinyCNN(), **FAST).fit(Bare(), sensitive_features=colour)
    clf = MIUnbiasedClassifier(backbone=TinyCNN(), **FAST).fit(Bare(), y, sensitive_features=colour)
    assert clf.predict(X).shape == y.shape


def test_image_arrays_without_backbone_are_rejected(colored_squares):
    X, y, colour = colored_squares
    with pytest.raises(ValueError, match="Found array with dim 4"):
        MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=colour)


def test_colour_penalty_on_digits_cnn_reduces_colour_information(colored_squares):
    """A few steps of the reference digits model run, and the MI is logged each epoch."""
    X, y, colour = colored_squares
    X = np.pad(X, ((0, 0), (0, 0), (10, 10), (10, 10)))  # 28 x 28
    clf = reference_classifier(
        "colored_mnist", max_epochs=2, penalty__steps=2, batch_size=32, random_state=0
    )
    clf.fit(X, y, sensitive_features=colour)
    assert isinstance(clf.net_.module_.backbone, DigitsCNN)
    assert clf.transform(X).shape == (len(y), 64)
    assert len(clf.history_[:, "train_mi"]) == 2


def test_digits_cnn_shapes_match_the_reference_code():
    net = DigitsCNN()
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (64, (5, 5), (0, 0)),
        (64, (5, 5), (0, 0)),
    ]
    assert net[-2].in_features == 64 * 4 * 4 and net[-2].out_features == 512
    with pytest.raises(ValueError, match="image_size"):
        DigitsCNN(image_size=8)


def test_resnet50_trunk_outputs_the_reference_feature_map():
    trunk = resnet50_backbone()
    with torch.no_grad():
        assert trunk.eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 2048, 7, 7)


def test_resnet50_loads_a_local_state_dict(tmp_path):
    from torchvision.models import resnet50

    model = resnet50()
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    trunk = resnet50_backbone(tmp_path / "weights.pt")
    assert torch.equal(trunk.stem[0].weight, model.conv1.weight)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        resnet50_backbone(str(tmp_path / "missing.pt"))


def test_resnet_backbone_rejects_other_modules():
    with pytest.raises(TypeError, match="torchvision ResNet"):
        resnet_backbone(nn.Linear(2, 2))


def test_reference_settings_reject_unknown_benchmarks():
    with pytest.raises(ValueError, match="benchmark must be one of"):
        reference_classifier("svhn")


def _weights(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_reference_backbone_weights_follow_random_state():
    """An int random_state seeds the backbone that reference_classifier builds (a fit in another
    process then repeats), and leaves the global torch stream alone."""
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    same = [_weights(reference_classifier("colored_mnist", random_state=5).backbone)]
    assert torch.equal(torch.rand(1), expected_next)
    torch.manual_seed(999)  # another global state changes nothing
    same.append(_weights(reference_classifier("colored_mnist", random_state=5).backbone))
    other = _weights(reference_classifier("colored_mnist", random_state=6).backbone)
    assert all(torch.equal(a, b) for a, b in zip(*same, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(same[0], other, strict=True))
