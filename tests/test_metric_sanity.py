"""The metric sanity benchmark's degradations and ordering check (the table itself:
`python -m benchmarks.metric_sanity`)."""
import numpy as np

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
