import numpy as np
from PIL import Image

from pipeline import bundled_data


def test_digits_are_written_once_into_class_folders(tmp_path):
    assert bundled_data.write_digits(tmp_path, limit=30) == 30
    files = sorted(tmp_path.glob("*/*.png"))
    assert len(files) == 30
    pixels, labels = bundled_data.digits_as_uint8()
    first = tmp_path / str(labels[0]) / "0000.png"
    np.testing.assert_array_equal(np.asarray(Image.open(first)), pixels[0])
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert bundled_data.write_digits(tmp_path, limit=30) == 30
    assert [f.stat().st_mtime_ns for f in files] == mtimes


def test_all_digits_are_available_offline():
    pixels, labels = bundled_data.digits_as_uint8()
    assert pixels.shape == (1797, 8, 8) and pixels.dtype == np.uint8
    assert pixels.max() == 255 and set(labels) == set(range(10))
