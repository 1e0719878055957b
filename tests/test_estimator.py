import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.dataset import ValidSplit

from fairmine import MIUnbiasedClassifier
from fairmine.exceptions import (
    DegenerateModelWarning,
    NoSensitiveFeaturesWarning,
    TrainingDivergedError,
    UninformativeSensitiveFeaturesWarning,
)
from fairmine.mi import DonskerVaradhan

FAST = {"max_epochs": 3, "penalty": DonskerVaradhan(steps=2, warmup_steps=5), "random_state": 0}


@pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")  # 2-3 epochs
def test_fit_predict_proba_transform(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(embedding_dim=5, **FAST).fit(X, y, sensitive_features=group)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    Z = clf.transform(X)
    assert Z.shape == (len(y), 5)
    assert Z.dtype == np.float32
    assert list(clf.get_feature_names_out()) == [f"miunbiasedclassifier{i}" for i in range(5)]


def test_history_logs_losses_and_mi_per_epoch(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=group)
    assert len(clf.history_) == FAST["max_epochs"]
    for key in ("train_loss", "train_task_loss", "train_mi", "train_z_active", "dur"):
        values = clf.history_[:, key]
        assert len(values) == FAST["max_epochs"]
        assert np.isfinite(values).all()
    row = clf.history_[-1]
    assert row["train_loss"] == pytest.approx(
        row["train_task_loss"] + clf.mi_weight * row["train_mi"], rel=1e-4
    )


@pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")  # 2-3 epochs
def test_validation_split_logs_valid_metrics(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(train_split=ValidSplit(0.2, random_state=0), **FAST)
    clf.fit(X, y, sensitive_features=group)
    for key in ("valid_loss", "valid_task_loss", "valid_acc", "valid_mi"):
        assert np.isfinite(clf.history_[:, key]).all()


def test_labels_of_any_type_and_multiclass():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(240, 3)).astype(np.float32)
    labels = np.array(["cat", "dog", "emu"])[np.digitize(X[:, 0], [-0.4, 0.4])]
    clf = MIUnbiasedClassifier(
        max_epochs=30, lr=1e-2, penalty=DonskerVaradhan(steps=1), random_state=0
    )
    clf.fit(X, labels, sensitive_features=rng.randint(0, 2, 240))
    np.testing.assert_array_equal(clf.classes_, ["cat", "dog", "emu"])
    assert clf.predict_proba(X).shape == (240, 3)
    assert set(clf.predict(X)) <= {"cat", "dog", "emu"}
    assert clf.score(X, labels) > 0.8


@pytest.mark.filterwarnings("ignore::fairmine.exceptions.DegenerateModelWarning")  # 2-3 epochs
def test_dataframe_input_records_feature_names(biased_data):
    X, y, group = biased_data
    frame = pd.DataFrame(X, columns=["signal", "proxy", "noise1", "noise2"])
    clf = MIUnbiasedClassifier(**FAST).fit(frame, y, sensitive_features=pd.Series(group))
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    assert clf.predict(frame).shape == (len(y),)


def test_without_sensitive_features_warns_and_trains_erm(biased_data):
    X, y, _ = biased_data
    with pytest.warns(NoSensitiveFeaturesWarning, match="sensitive_features"):
        clf = MIUnbiasedClassifier(**FAST).fit(X, y)
    assert "train_mi" not in clf.history_[-1]
    assert not hasattr(clf.net_, "critic_")


def test_mi_weight_zero_trains_plain_erm_without_a_critic(biased_data):
    X, y, group = biased_data
    erm = MIUnbiasedClassifier(mi_weight=0.0, **FAST).fit(X, y, sensitive_features=group)
    row = erm.history_[-1]
    assert "train_mi" not in row
    assert not hasattr(erm.net_, "critic_")
    assert row["train_loss"] == pytest.approx(row["train_task_loss"])
    # the penalty plays no part: another one, or one that no fit with a penalty accepts, trains
    # the same model
    for penalty in ("hsic", DonskerVaradhan(steps=0)):
        no_critic = MIUnbiasedClassifier(mi_weight=0.0, **{**FAST, "penalty": penalty})
        no_critic.fit(X, y, sensitive_features=group)
        np.testing.assert_array_equal(erm.predict_proba(X), no_critic.predict_proba(X))


def test_mi_weight_changes_the_model(biased_data):
    X, y, group = biased_data
    erm = MIUnbiasedClassifier(mi_weight=0.0, **FAST).fit(X, y, sensitive_features=group)
    fair = MIUnbiasedClassifier(mi_weight=1.0, **FAST).fit(X, y, sensitive_features=group)
    assert not np.allclose(erm.transform(X), fair.transform(X))


@pytest.mark.parametrize("clip_mi_gradient", ["representation", "per_tensor"])
@pytest.mark.parametrize("mi_update", ["separate", "joint"])
@pytest.mark.parametrize("sampling", ["bank", "fresh"])
def test_every_training_mode_learns_the_task(biased_data, mi_update, sampling, clip_mi_gradient):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(
        mi_update=mi_update,
        penalty=DonskerVaradhan(steps=2, sampling=sampling),
        clip_mi_gradient=clip_mi_gradient,
        max_epochs=15,
        random_state=0,
    ).fit(X, y, sensitive_features=group)
    assert clf.score(X, y) > 0.75
    assert np.isfinite(clf.history_[:, "train_mi"]).all()


def test_same_random_state_same_model_different_states_differ(biased_data):
    X, y, group = biased_data
    fits = [
        MIUnbiasedClassifier(**{**FAST, "random_state": seed}).fit(X, y, sensitive_features=group)
        for seed in (0, 0, 1)
    ]
    np.testing.assert_array_equal(fits[0].predict_proba(X), fits[1].predict_proba(X))
    assert not np.allclose(fits[0].predict_proba(X), fits[2].predict_proba(X))


def test_global_torch_random_state_is_untouched(biased_data):
    X, y, group = biased_data
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=group)
    assert torch.equal(torch.rand(1), expected)


def test_pickle_round_trip_keeps_predictions(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=group)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_sensitive_attribute_is_not_needed_to_predict(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=group)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(X), clf.predict_proba(X), clf.transform(X), clf.score(X, y)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_is_rejected(biased_data, bad):
    X, y, group = biased_data
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=group)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_sensitive_features_are_rejected(biased_data, bad):
    X, y, group = biased_data
    c = group.astype(float)
    c[5] = bad
    with pytest.raises(ValueError, match=r"sensitive_features contains (missing|infinite)"):
        MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=c)


def test_sensitive_features_of_the_wrong_length_are_rejected(biased_data):
    X, y, group = biased_data
    with pytest.raises(ValueError, match="sensitive_features has 299 rows but X has 300"):
        MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=group[:-1])


def test_y_of_the_wrong_length_is_rejected(biased_data):
    X, y, group = biased_data
    with pytest.raises(ValueError, match="y has 299 samples but X has 300"):
        MIUnbiasedClassifier(**FAST).fit(X, y[:-1], sensitive_features=group)


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match="0 sample"):
        MIUnbiasedClassifier(**FAST).fit(np.empty((0, 3)), np.empty(0), sensitive_features=[])


def test_one_class_y_is_rejected(biased_data):
    X, _, group = biased_data
    with pytest.raises(ValueError, match=r"at least two classes.*one class"):
        MIUnbiasedClassifier(**FAST).fit(X, np.ones(len(X)), sensitive_features=group)


def test_continuous_y_is_rejected(biased_data):
    X, _, group = biased_data
    with pytest.raises(ValueError, match="Unknown label type"):
        MIUnbiasedClassifier(**FAST).fit(X, np.linspace(0, 1, len(X)), sensitive_features=group)


def test_constant_sensitive_attribute_warns(biased_data):
    X, y, _ = biased_data
    with pytest.warns(UninformativeSensitiveFeaturesWarning, match="single value"):
        MIUnbiasedClassifier(**FAST).fit(X, y, sensitive_features=np.zeros(len(y)))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mi_weight": -1.0}, "mi_weight"),
        ({"penalty": DonskerVaradhan(lr=0.0)}, "lr"),
        ({"penalty": DonskerVaradhan(sampling="sometimes")}, "sampling"),
        ({"penalty": "mine"}, "penalty"),
        ({"mi_update": "both"}, "mi_update"),
        ({"clip_mi_gradient": True}, "clip_mi_gradient"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"sensitive_encoding": "ordinal"}, "sensitive_encoding"),
    ],
)
def test_invalid_parameters_name_the_parameter(biased_data, params, message):
    X, y, group = biased_data
    with pytest.raises(ValueError, match=f"'{message}' parameter"):
        MIUnbiasedClassifier(**{**FAST, **params}).fit(X, y, sensitive_features=group)


def test_penalty_without_critic_steps_is_rejected(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(**{**FAST, "penalty": DonskerVaradhan(steps=0)})
    with pytest.raises(ValueError, match="'steps' parameter of DonskerVaradhan must be"):
        clf.fit(X, y, sensitive_features=group)


def test_divergence_stops_with_an_error_naming_the_setting(biased_data):
    X, y, group = biased_data
    critic = DonskerVaradhan(steps=2, warmup_steps=5, lr=1e12, optimizer=torch.optim.SGD)
    clf = MIUnbiasedClassifier(**{**FAST, "penalty": critic})
    with pytest.raises(TrainingDivergedError, match="DonskerVaradhan's lr"):
        clf.fit(X, y, sensitive_features=group)


def test_predict_before_fit_raises(biased_data):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MIUnbiasedClassifier().predict(biased_data[0])


def test_missing_y_is_rejected_for_arrays(biased_data):
    X, _, group = biased_data
    with pytest.raises(ValueError, match="requires y to be passed"):
        MIUnbiasedClassifier(**FAST).fit(X, sensitive_features=group)


def test_a_penalty_that_wrecks_the_task_warns_naming_mi_weight(biased_data):
    X, y, group = biased_data
    critic = DonskerVaradhan(steps=1, warmup_steps=5)
    clf = MIUnbiasedClassifier(mi_weight=50.0, **{**FAST, "penalty": critic, "max_epochs": 3})
    with pytest.warns(DegenerateModelWarning, match=r"mi_weight \(now 50.0\)") as record:
        clf.fit(X, y, sensitive_features=group)
    message = str(record[0].message)
    assert "no better than a constant" in message or "single class" in message
    assert clf.score(X, y) <= np.bincount(y).max() / len(y)


def test_a_model_predicting_one_class_warns():
    # labels independent of X, 90 % zeros: the best a model can do is always say 0
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(200, 2)), (rng.uniform(size=200) < 0.1).astype(int)
    clf = MIUnbiasedClassifier(mi_weight=0.0, max_epochs=5, lr=1e-2, random_state=0)
    with pytest.warns(DegenerateModelWarning, match="predicts the single class 0 on"):
        clf.fit(X, y, sensitive_features=np.arange(200) % 2)
    assert set(clf.predict(X)) == {0}


def test_a_model_that_learned_the_task_does_not_warn(biased_data):
    X, y, group = biased_data
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateModelWarning)
        clf = MIUnbiasedClassifier(max_epochs=15, random_state=0)
        clf.fit(X, y, sensitive_features=group)
    assert clf.score(X, y) > 0.75
