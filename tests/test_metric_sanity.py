"""The metric sanity benchmark's degradations and ordering check (the table itself:
`python -m benchmarks.metric_sanity`)."""
import numpy as np
import pytest

from benchmarks.metric_sanity import check_ordering, degradations


def test_the_ordering_check_names_every_broken_ordering():
    steps = degradations(32)   # blur, noise, collapse, uniform; three strengths each
    values = [2, 3, 10] + [2.5, 4, 6] + [11, 12, 13] + [14, 15, 16]
    good = {step.name: value for step, value in zip(steps, values)}
    assert check_ordering(1.0, good, steps) == ()
    slight_noise = steps[3].name
    bad = {**good, slight_noise: 100.0}   # above the heaviest blur and the next noise
    assert set(check_ordering(1.0, bad, steps)) == {
        f"{slight_noise} !< {steps[2].name}", f"{slight_noise} !< {steps[4].name}"}
    assert check_ordering(2.2, good, steps) == (f"floor !< {steps[0].name}",)


def test_degradations_keep_the_shape_and_grow_in_strength():
    images = np.random.default_rng(0).uniform(-1, 1, (32, 16, 16, 3))
    for step in degradations(16):
        assert step.apply(images, np.random.default_rng(0)).shape == images.shape
    one = [s for s in degradations(16) if s.family == "collapse"][-1]
    assert len(np.unique(one.apply(images, None).reshape(32, -1), axis=0)) == 1


# Small images, the benchmark's code: every extractor the pipeline trains ranks the
# degradations correctly on each data kind (all at 32 px: `make bench`). Fewer than ~360
# held-out images cannot tell the slightest noise from the floor (FID's own spread).
SMALL_DATA = {"digits": (None, 8), "rgb_photos": (1800, 16), "gray_objects": (1800, 32)}


@pytest.fixture(scope="module", params=list(SMALL_DATA))
def built(request, tmp_path_factory):
    from benchmarks import datasets
    from benchmarks.metric_sanity import extractors_for, split

    count, size = SMALL_DATA[request.param]
    images, labels = datasets.build(request.param, count, size, seed=0)
    train, train_labels, held_out = split(images, labels)
    extractors = extractors_for(request.param, train, train_labels,
                                str(tmp_path_factory.mktemp("extractors")))
    return request.param, extractors, train, held_out


def test_every_trained_extractor_ranks_the_degradations_on_every_data_kind(built):
    from benchmarks.metric_sanity import format_table, measure

    kind, extractors, train, held_out = built
    names = ["self_supervised"] + (["domain_classifier"] if kind == "digits" else [])
    results = [measure(kind, name, extractors[name], train, held_out) for name in names]
    assert all(result.passed for result in results), format_table(results)


def test_a_trained_extractor_exported_as_a_saved_model_gives_the_same_features(built):
    kind, extractors, train, held_out = built
    np.testing.assert_allclose(extractors["saved_model:trained"].features(held_out),
                               extractors["self_supervised"].features(held_out),
                               rtol=1e-4, atol=1e-5)
