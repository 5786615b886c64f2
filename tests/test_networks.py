import numpy as np
import pytest

from modules.images import ImageSpec
from modules.training.config import NetworkConfig
from modules.training.networks import build_discriminator, build_generator, num_levels

CONFIG = NetworkConfig(latent_dim=16, generator_filters=8, discriminator_filters=8)


@pytest.mark.parametrize("size", [8, 16, 32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_follow_image_size_and_channels(size, channels):
    spec = ImageSpec(size, channels)
    generator = build_generator(spec, CONFIG)
    discriminator = build_discriminator(spec, CONFIG)
    noise = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)

    images = generator(noise, training=False).numpy()
    logits = discriminator(images, training=False).numpy()

    assert images.shape == (3, size, size, channels)
    assert np.all(images >= -1) and np.all(images <= 1)
    assert logits.shape == (3, 1)


def test_depth_grows_with_size():
    assert [num_levels(ImageSpec(size)) for size in (8, 16, 32, 64, 128)] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("size,channels", [(12, 1), (4, 1), (256, 1), (8, 2)])
def test_unsupported_image_specs_are_refused(size, channels):
    with pytest.raises(ValueError):
        ImageSpec(size, channels)
