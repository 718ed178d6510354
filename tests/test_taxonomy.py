import numpy as np
import pytest

from rtfer.taxonomy import CKPLUS7, FER7, VALENCE3, canonical, get_scheme, group_of, to_groups, valence


def onehot(name, labels):
    p = np.zeros(len(labels), dtype=np.float32)
    p[labels.index(name)] = 1
    return p


def test_fer7_order_matches_the_csv_release():
    assert FER7.labels == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.mark.parametrize(("variant", "name"), [("Anger", "angry"), ("sadness", "sad"), ("happiness", "happy"),
                                               ("surprised", "surprise"), ("fearful", "fear")])
def test_name_variants(variant, name):
    assert canonical(variant) == name


def test_unknown_name_lists_accepted_names():
    with pytest.raises(ValueError, match="accepted names: .*angry"):
        canonical("bored")


def test_groups():
    assert [group_of(n) for n in ("happy", "neutral", "angry", "disgust", "fear", "sad", "contempt")] == \
        ["positive", "neutral", "negative", "negative", "negative", "negative", "negative"]
    assert group_of("surprise") is None


@pytest.mark.parametrize(("emotion", "expected"), [("happy", 1.0), ("sad", -1.0), ("angry", -1.0),
                                                   ("neutral", 0.0), ("surprise", 0.0)])
def test_valence_of_pure_emotions(emotion, expected):
    assert valence(onehot(emotion, FER7.labels), FER7.labels) == pytest.approx(expected)


def test_surprise_and_neutral_carry_no_valence_and_nothing_is_renormalised():
    p = np.array([0.1, 0, 0, 0.3, 0, 0.5, 0.1], dtype=np.float32)  # angry .1, happy .3, surprise .5, neutral .1
    assert valence(p, FER7.labels) == pytest.approx(0.3 - 0.1)
    # the 3-group classification still renormalises (which group is likeliest among the three)
    assert to_groups(p, FER7.labels) == pytest.approx([0.2, 0.2, 0.6])


def test_a_mostly_surprised_face_reads_near_zero():
    """Issue 14: 71% surprise + 20% fear read -0.81 when the rest was renormalised."""
    p = np.zeros(7)
    p[FER7.index("surprise")], p[FER7.index("fear")], p[FER7.index("neutral")] = 0.71, 0.20, 0.09
    assert abs(valence(p, FER7.labels)) <= 0.3
    assert valence(p, FER7.labels) == pytest.approx(-0.20)


def test_valence_of_averaged_probabilities_is_the_averaged_valence():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(7), size=50)
    assert valence(probs.mean(axis=0), FER7.labels) == pytest.approx(valence(probs, FER7.labels).mean())


def test_valence_counts_contempt_as_negative_and_accepts_batches():
    probs = np.stack([onehot("contempt", CKPLUS7.labels), onehot("happy", CKPLUS7.labels)])
    assert valence(probs, CKPLUS7.labels) == pytest.approx([-1.0, 1.0])


def test_valence_of_a_three_group_model():
    assert valence(np.array([0.2, 0.3, 0.5]), VALENCE3.labels) == pytest.approx(0.3)


def test_valence_stays_in_range_on_random_probabilities():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(7) * 0.3, size=1000)
    v = valence(probs, FER7.labels)
    assert v.min() >= -1 and v.max() <= 1


def test_unknown_scheme():
    with pytest.raises(ValueError, match="known: fer7"):
        get_scheme("fer8")
