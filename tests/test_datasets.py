"""The benchmark data kinds: deterministic for a seed, the shapes and ranges documented."""
import numpy as np

from benchmarks import datasets


def test_each_kind_is_a_pure_function_of_its_seed(tmp_path):
    for kind in datasets.KINDS:
        first, labels = datasets.build(kind, 40, 32, seed=1)
        again, _ = datasets.build(kind, 40, 32, seed=1)
        other, _ = datasets.build(kind, 40, 32, seed=2)
        assert first.dtype == np.uint8 and len(first) == 40
        np.testing.assert_array_equal(first, again)
        assert not np.array_equal(first, other)
        assert (labels is not None) == (kind == "digits")
    assert datasets.build("rgb_photos", 8)[0].shape == (8, 32, 32, 3)
    assert datasets.build("gray_objects", 8, 16)[0].shape == (8, 16, 16, 1)


def test_images_vary_and_are_written_as_a_user_folder(tmp_path):
    images = datasets.rgb_photos(20, 32, seed=0)
    # Not one image repeated: every pair of crops differs.
    flat = images.reshape(len(images), -1).astype(np.int16)
    assert min(np.abs(flat[i] - flat[j]).mean() for i in range(20) for j in range(i)) > 1
    folder = datasets.write_folder(images, tmp_path / "photos")
    assert len(list(folder.glob("*.png"))) == 20
    pixels, labels = datasets.digits(30)
    labeled = datasets.write_folder(pixels, tmp_path / "digits", labels)
    assert len(list(labeled.glob("*/*.png"))) == 30
