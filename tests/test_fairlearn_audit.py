"""fairlearn's MetricFrame audits fairmine's predictions directly."""

import numpy as np
from fairlearn.metrics import MetricFrame, selection_rate, true_positive_rate
from sklearn.metrics import accuracy_score

from fairmine import MIUnbiasedClassifier
from fairmine.mi import DonskerVaradhan


def test_metric_frame_on_fairmine_predictions(biased_data):
    X, y, group = biased_data
    clf = MIUnbiasedClassifier(max_epochs=5, penalty=DonskerVaradhan(steps=2), random_state=0)
    clf.fit(X, y, sensitive_features=group)
    y_pred = clf.predict(X)
    names = np.where(group == 1, "group b", "group a")
    frame = MetricFrame(
        metrics={
            "accuracy": accuracy_score,
            "tpr": true_positive_rate,
            "selection_rate": selection_rate,
        },
        y_true=y,
        y_pred=y_pred,
        sensitive_features=names,
    )
    assert list(frame.by_group.index) == ["group a", "group b"]
    mask = names == "group b"
    assert frame.by_group.loc["group b", "accuracy"] == accuracy_score(y[mask], y_pred[mask])
    assert frame.by_group.loc["group b", "selection_rate"] == y_pred[mask].mean()
    assert frame.overall["accuracy"] == accuracy_score(y, y_pred)
    assert frame.difference()["tpr"] >= 0
