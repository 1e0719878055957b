import math
from datetime import date, datetime, timedelta

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from fairmine.datasets import IMDB_AGE_BINS, IMDBFaces, load_imdb_faces

PHOTO_YEAR = 2010
MALE_COLOUR, FEMALE_COLOUR = (200, 30, 30), (30, 30, 200)


def _datenum(day, fraction=0.25):
    """MATLAB serial date number of a date (day 1 = 1 January of year 0)."""
    return day.toordinal() + 366 + fraction


def _faces():
    """(gender, birth date, face_score, second_face_score, photo year) of each fake face.

    Valid faces first: both genders at ages around every EB boundary, and birthdays
    on either side of 1 July; then rows the loader must filter out.
    """
    rows = []
    for gender in (0.0, 1.0):
        for age in (5, 18, 22, 27, 29, 30, 35, 39, 40, 45, 62, 75, 100):
            rows.append((gender, date(PHOTO_YEAR - age, 3, 14), 2.5, np.nan, PHOTO_YEAR))
    # born on/after 1 July: age on 1 July 2010 is 29 / 28
    rows.append((0.0, date(1981, 7, 1), 1.0, np.nan, PHOTO_YEAR))
    rows.append((1.0, date(1981, 7, 2), 1.0, np.nan, PHOTO_YEAR))
    n_valid = len(rows)
    rows += [
        (1.0, date(1970, 1, 1), -np.inf, np.nan, PHOTO_YEAR),  # no face found
        (0.0, date(1970, 1, 1), 3.0, 1.5, PHOTO_YEAR),  # a second face
        (np.nan, date(1970, 1, 1), 3.0, np.nan, PHOTO_YEAR),  # unknown gender
        (1.0, date(1900, 1, 1), 3.0, np.nan, PHOTO_YEAR),  # age 110
        (0.0, date(2015, 1, 1), 3.0, np.nan, PHOTO_YEAR),  # born after the photo
    ]
    return rows, n_valid


def _write_imdb(root, rows, *, drop_field=None, struct_name="imdb"):
    """Write imdb.mat in the layout of the real file, and one image per face."""
    n = len(rows)
    full_path = np.empty((1, n), dtype=object)
    for i, (gender, *_) in enumerate(rows):
        folder = f"{i % 3:02d}"
        suffix = "png" if i % 2 else "jpg"
        name = f"{folder}/nm{i:07d}_rm{i}_{PHOTO_YEAR}.{suffix}"
        full_path[0, i] = np.array([name])
        (root / folder).mkdir(parents=True, exist_ok=True)
        colour = MALE_COLOUR if gender == 1 else FEMALE_COLOUR
        size = (20 + i % 5, 24 + i % 7)
        image = Image.new("RGB", size, colour)
        if i % 4 == 0:
            image = image.convert("L")  # grayscale files exist in IMDB-WIKI
        image.save(root / name)
    struct = {
        "dob": np.array([[_datenum(row[1]) for row in rows]]),
        "photo_taken": np.array([[row[4] for row in rows]], dtype=np.uint16),
        "full_path": full_path,
        "gender": np.array([[row[0] for row in rows]]),
        "name": full_path.copy(),
        "face_location": np.empty((1, n), dtype=object),
        "face_score": np.array([[row[2] for row in rows]]),
        "second_face_score": np.array([[row[3] for row in rows]]),
    }
    for i in range(n):
        struct["face_location"][0, i] = np.array([[1.0, 2.0, 30.0, 40.0]])
    if drop_field is not None:
        del struct[drop_field]
    scipy.io.savemat(root / "imdb.mat", {struct_name: struct})
    return root


@pytest.fixture(scope="module")
def imdb(tmp_path_factory):
    rows, n_valid = _faces()
    return _write_imdb(tmp_path_factory.mktemp("imdb_crop"), rows), rows, n_valid


def _expected_age(dob, photo_taken):
    birth = datetime.fromordinal(int(dob)) - timedelta(days=366) + timedelta(days=dob % 1)
    return photo_taken - birth.year - ((birth.month, birth.day) > (7, 1))


def _index(path):
    """Row of a face in the fake imdb.mat, read back from its file name."""
    return int(path.rsplit("nm", 1)[1][:7])


def _all_kept(root):
    """Every face that passes the filters: the test part plus the whole pool."""
    test = load_imdb_faces(root, "test", max_samples=None)
    eb1 = load_imdb_faces(root, "eb1", max_samples=None)
    eb2 = load_imdb_faces(root, "eb2", max_samples=None)
    return test, eb1, eb2


def test_the_fake_file_has_the_real_layout(imdb):
    root, rows, _ = imdb
    struct = scipy.io.loadmat(root / "imdb.mat")["imdb"]
    assert struct.shape == (1, 1)
    assert struct[0, 0]["dob"].shape == (1, len(rows))
    assert struct[0, 0]["full_path"].dtype == object
    assert struct[0, 0]["full_path"][0, 0].dtype.kind == "U"


def test_filtering_and_ages(imdb):
    root, rows, n_valid = imdb
    test, eb1, eb2 = _all_kept(root)
    assert 0 < len(test) < n_valid
    for part in (test, eb1, eb2):
        for path, age, gender in zip(part.paths, part.ages, part.targets, strict=True):
            index = _index(path)
            assert index < n_valid, f"{path} should have been filtered out"
            row = rows[index]
            assert age == _expected_age(_datenum(row[1]), row[4])
            assert gender == row[0]
    ages = {
        _index(path): age
        for part in (test, eb1, eb2)
        for path, age in zip(part.paths, part.ages, strict=True)
    }
    # every valid face is in a part, except the pool's 30-39-year-olds (in no EB split)
    for index in set(range(n_valid)) - set(ages):
        assert 30 <= _expected_age(_datenum(rows[index][1]), rows[index][4]) < 40
    assert ages[n_valid - 2] == 29  # born 1 July 1981
    assert ages[n_valid - 1] == 28  # born 2 July 1981


def test_expected_age_helper_matches_the_calendar():
    assert _expected_age(_datenum(date(1981, 7, 1), 0.9), 2010) == 29
    assert _expected_age(_datenum(date(1981, 7, 2), 0.0), 2010) == 28
    assert _expected_age(_datenum(date(1990, 12, 31)), 1990) == -1


def test_eb_splits_follow_the_rules_and_the_test_part_is_disjoint(imdb):
    root, _, n_valid = imdb
    test, eb1, eb2 = _all_kept(root)
    young, old = eb1.ages < 30, eb1.ages >= 40
    assert ((eb1.targets == 0) & young | (eb1.targets == 1) & old).all()
    young, old = eb2.ages < 30, eb2.ages >= 40
    assert ((eb2.targets == 1) & young | (eb2.targets == 0) & old).all()
    assert set(eb1.targets) == {0, 1} and set(eb2.targets) == {0, 1}
    assert len(test) == math.ceil(0.2 * n_valid)
    test_paths = set(test.paths)
    assert not test_paths & set(eb1.paths) and not test_paths & set(eb2.paths)
    assert not set(eb1.paths) & set(eb2.paths)
    # the pool (kept faces not in the test part) minus its 30-39-year-olds is EB1 + EB2
    thirties_in_test = int(((test.ages >= 30) & (test.ages < 40)).sum())
    assert len(eb1) + len(eb2) == (n_valid - len(test)) - (6 - thirties_in_test)


def test_test_part_has_all_ages_and_both_genders(imdb):
    root, _, _ = imdb
    test = load_imdb_faces(root, "test", test_fraction=0.6)
    assert set(test.targets) == {0, 1}
    assert ((test.ages >= 30) & (test.ages < 40)).any()


def test_random_state_changes_the_partition_deterministically(imdb):
    root, _, _ = imdb
    a = load_imdb_faces(root, "test", random_state=0)
    b = load_imdb_faces(root, "test", random_state=0)
    c = load_imdb_faces(root, "test", random_state=1)
    np.testing.assert_array_equal(a.paths, b.paths)
    assert set(a.paths) != set(c.paths)


def test_max_samples_caps(imdb):
    root, _, _ = imdb
    full = load_imdb_faces(root, "eb1", max_samples=None)
    capped = load_imdb_faces(root, "eb1", max_samples=3)
    assert len(capped) == 3 < len(full)
    assert set(capped.paths) <= set(full.paths)
    assert len(load_imdb_faces(root, "eb1")) == len(full)  # "auto": 2000 for training splits
    assert len(load_imdb_faces(root, "test", max_samples=2)) == 2


def test_bins_and_sensitive_features(imdb):
    root, _, _ = imdb
    assert IMDB_AGE_BINS.tolist() == [0, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 120]
    faces = IMDBFaces([f"f{i}.png" for i in range(8)], [0] * 8, [0, 19, 20, 24, 34, 65, 70, 100])
    np.testing.assert_array_equal(faces.sensitive_features, [0, 0, 1, 1, 3, 10, 11, 11])
    eb1 = load_imdb_faces(root, "eb1", max_samples=None)
    assert eb1.sensitive_features.dtype == np.int64 and eb1.targets.dtype == np.int64
    np.testing.assert_array_equal(
        eb1.sensitive_features, np.searchsorted(IMDB_AGE_BINS, eb1.ages, side="right") - 1
    )


def test_images_are_read_resized_and_labelled(imdb):
    root, _, _ = imdb
    faces = load_imdb_faces(root, "test", image_size=16, test_fraction=0.5)
    assert isinstance(faces, Dataset)
    n_coloured = 0
    for i in range(len(faces)):
        image, target = faces[i]
        assert image.shape == (3, 16, 16) and image.dtype == torch.float32
        assert 0.0 <= image.min() and image.max() <= 1.0
        assert target == faces.targets[i]
        if not np.allclose(image[0], image[1]):  # a colour (not grayscale) file
            colour = MALE_COLOUR if target == 1 else FEMALE_COLOUR
            np.testing.assert_allclose(image[:, 8, 8], np.array(colour) / 255, atol=0.02)
            n_coloured += 1
    assert n_coloured > 0
    images, targets = next(iter(DataLoader(faces, batch_size=4)))
    assert images.shape == (4, 3, 16, 16) and targets.dtype == torch.int64


def test_transform_is_applied(imdb):
    root, _, _ = imdb
    faces = load_imdb_faces(root, "eb2", image_size=8, transform=lambda x: x - 0.5)
    image, _ = faces[0]
    assert image.min() < 0


def test_missing_root_and_mat_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_imdb_faces(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"imdb\.mat"):
        load_imdb_faces(tmp_path)


def test_mat_file_without_the_struct_or_a_field(tmp_path):
    rows, _ = _faces()
    _write_imdb(tmp_path / "wiki", rows, struct_name="wiki")
    with pytest.raises(ValueError, match="struct 'imdb'"):
        load_imdb_faces(tmp_path / "wiki")
    _write_imdb(tmp_path / "nogender", rows, drop_field="gender")
    with pytest.raises(ValueError, match=r"lacks the fields \['gender'\]"):
        load_imdb_faces(tmp_path / "nogender")
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "imdb.mat").write_bytes(b"not a mat file" * 20)
    with pytest.raises(ValueError, match=r"cannot read .*imdb\.mat"):
        load_imdb_faces(tmp_path / "garbage")


def test_empty_selection(tmp_path):
    _, n_valid = _faces()
    rows = _faces()[0][n_valid:]  # only faces that are filtered out
    _write_imdb(tmp_path, rows)
    with pytest.raises(ValueError, match=r"no face .* split 'eb1'.*0 of 5 faces"):
        load_imdb_faces(tmp_path, "eb1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "eb3"}, "split must be one of"),
        ({"max_samples": 0}, "max_samples must be"),
        ({"max_samples": "all"}, "max_samples must be"),
        ({"test_fraction": 1.0}, "test_fraction must be"),
        ({"random_state": None}, "random_state must be an int"),
        ({"image_size": 0}, "image_size must be"),
        ({"transform": "normalise"}, "transform must be callable"),
    ],
)
def test_bad_arguments(imdb, kwargs, message):
    root, _, _ = imdb
    with pytest.raises(ValueError, match=message):
        load_imdb_faces(root, **kwargs)


def test_missing_or_unreadable_image_names_the_file(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    faces = IMDBFaces([tmp_path / "gone.jpg", tmp_path / "broken.jpg"], [0, 1], [20, 30])
    with pytest.raises(FileNotFoundError, match=r"gone\.jpg"):
        faces[0]
    with pytest.raises(ValueError, match=r"broken\.jpg"):
        faces[1]


def test_dataset_checks_its_metadata():
    with pytest.raises(ValueError, match="same length"):
        IMDBFaces(["a.png"], [0, 1], [20])
    with pytest.raises(ValueError, match="targets must be 0"):
        IMDBFaces(["a.png"], [2], [20])
    with pytest.raises(ValueError, match=r"ages must lie in \[0, 120\)"):
        IMDBFaces(["a.png"], [1], [130])
