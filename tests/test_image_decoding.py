"""Normalization of one image at ingest, pixel by pixel on small known images (no TFX)."""
import io

import numpy as np
import pytest
from PIL import Image

from components.ingest.decoding import (CORRUPT, EMPTY, NOT_AN_IMAGE, TOO_MANY_PIXELS,
                                        UNSUPPORTED, ImageRejected, Rejection, image_to_example,
                                        label_of, normalize_image)
from components.ingest.settings import IngestOptions, IngestSettings
from tests.image_files import (animated_gif, encode, luma, noise, over_black, png16, png_header_only,
                         with_orientation)
from modules import features
from modules.images import ImageSpec

GRAY_8 = IngestOptions(ImageSpec(8, 1))
RGB_8 = IngestOptions(ImageSpec(8, 3))


def pixels(content, settings):
    return normalize_image(content, settings).pixels


def feature(example, name):
    value = example.features.feature[name]
    return (value.bytes_list.value or value.int64_list.value)[0]


def test_gray_png_is_kept_exactly_and_repeated_for_three_channels():
    gray = noise((8, 8))
    result = normalize_image(encode(gray, "PNG"), GRAY_8)
    np.testing.assert_array_equal(result.pixels[..., 0], gray)
    assert (result.source_channels, result.source_format) == (1, "PNG")
    np.testing.assert_array_equal(pixels(encode(gray, "PNG"), RGB_8), np.repeat(gray[..., None],
                                                                                 3, axis=-1))


def test_rgb_png_is_kept_exactly_and_becomes_luma_for_one_channel():
    rgb = noise((8, 8, 3))
    np.testing.assert_array_equal(pixels(encode(rgb, "PNG"), RGB_8), rgb)
    np.testing.assert_array_equal(pixels(encode(rgb, "PNG"), GRAY_8)[..., 0], luma(rgb))


def test_colour_image_with_equal_channels_counts_as_grayscale():
    gray = noise((8, 8))
    result = normalize_image(encode(np.stack([gray] * 3, axis=-1), "PNG"), GRAY_8)
    assert result.source_channels == 1
    np.testing.assert_array_equal(result.pixels[..., 0], gray)


def test_rgba_and_gray_alpha_are_composited_onto_black():
    rgba = noise((8, 8, 4), seed=1)
    result = normalize_image(encode(rgba, "PNG"), RGB_8)
    np.testing.assert_array_equal(result.pixels, over_black(rgba[..., :3], rgba[..., 3]))
    assert result.source_channels == 3
    gray_alpha = noise((8, 8, 2), seed=2)
    np.testing.assert_array_equal(
        pixels(encode(Image.fromarray(gray_alpha, "LA"), "PNG"), GRAY_8),
        over_black(gray_alpha[..., :1], gray_alpha[..., 1]))


def test_palette_png_expands_to_its_colours_and_transparent_entries_become_black():
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
    indices = (np.arange(64).reshape(8, 8) % 4).astype(np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette)
    colours = np.array(palette, np.uint8).reshape(4, 3)
    np.testing.assert_array_equal(pixels(encode(image, "PNG"), RGB_8), colours[indices])
    # Entry 1 fully transparent, entry 2 half transparent.
    transparent = encode(image, "PNG", transparency=bytes([255, 0, 128, 255]))
    alpha = np.array([255, 0, 128, 255], np.uint8)[indices]
    np.testing.assert_array_equal(pixels(transparent, RGB_8), over_black(colours[indices], alpha))


def test_gray_palette_gif_counts_as_grayscale():
    gray = (np.arange(64).reshape(8, 8) * 4).astype(np.uint8)
    result = normalize_image(encode(gray, "GIF"), GRAY_8)
    assert (result.source_channels, result.source_format) == (1, "GIF")
    np.testing.assert_array_equal(result.pixels[..., 0], gray)


def test_sixteen_bit_pngs_keep_the_high_byte():
    samples = np.random.default_rng(3).integers(0, 65536, (8, 8, 4), dtype=np.uint16)
    high = (samples >> 8).astype(np.uint8)
    np.testing.assert_array_equal(pixels(png16(samples[..., :1], 0), GRAY_8), high[..., :1])
    np.testing.assert_array_equal(pixels(png16(samples[..., :3], 2), RGB_8), high[..., :3])
    np.testing.assert_array_equal(pixels(png16(samples, 6), RGB_8),
                                  over_black(high[..., :3], high[..., 3]))
    gray_alpha = normalize_image(png16(samples[..., :2], 4), GRAY_8)
    assert gray_alpha.source_channels == 1
    np.testing.assert_array_equal(gray_alpha.pixels, over_black(high[..., :1], high[..., 1]))


def test_jpeg_gray_rgb_and_cmyk_are_decoded_to_their_colours():
    # Flat colours survive JPEG compression to within a level or two.
    gray = normalize_image(encode(np.full((8, 8), 90, np.uint8), "JPEG", quality=100), GRAY_8)
    assert gray.source_channels == 1
    assert np.abs(gray.pixels.astype(int) - 90).max() <= 1
    rgb = np.empty((8, 8, 3), np.uint8)
    rgb[...] = (200, 40, 90)
    decoded = pixels(encode(rgb, "JPEG", quality=100), RGB_8)
    assert np.abs(decoded.astype(int) - rgb).max() <= 2
    cmyk = Image.new("CMYK", (8, 8), (20, 100, 60, 40))
    # Pillow's CMYK to RGB: each of R, G, B = (255 - K) * (255 - C|M|Y) / 255.
    expected = np.round((255 - 40) * (255 - np.array([20, 100, 60])) / 255)
    result = normalize_image(encode(cmyk, "JPEG", quality=100), RGB_8)
    assert result.source_format == "JPEG" and result.source_channels == 3
    assert np.abs(result.pixels.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("image_format", ["PNG", "JPEG"])
def test_exif_orientation_is_applied_before_cropping(image_format):
    # 8 high, 16 wide: left half white, right half black. Orientation 6 displays it
    # rotated 90 degrees clockwise: 16 high, 8 wide, white on top.
    array = np.zeros((8, 16), np.uint8)
    array[:, :8] = 255
    result = normalize_image(with_orientation(array, image_format, 6),
                             IngestOptions(ImageSpec(8, 1), IngestSettings(fit="center-crop")))
    assert (result.source_height, result.source_width) == (16, 8)
    expected = np.asarray(Image.fromarray(array).transpose(Image.Transpose.ROTATE_270))[4:12]
    tolerance = 0 if image_format == "PNG" else 8
    assert np.abs(result.pixels[..., 0].astype(int) - expected).max() <= tolerance


def test_bmp_webp_and_the_first_frame_of_a_gif():
    rgb = noise((8, 8, 3), seed=4)
    np.testing.assert_array_equal(pixels(encode(rgb, "BMP"), RGB_8), rgb)
    np.testing.assert_array_equal(pixels(encode(rgb, "WEBP", lossless=True), RGB_8), rgb)
    rgba = noise((8, 8, 4), seed=5)
    np.testing.assert_array_equal(pixels(encode(rgba, "WEBP", lossless=True, exact=True), RGB_8),
                                  over_black(rgba[..., :3], rgba[..., 3]))
    first_frame = normalize_image(animated_gif((255, 0, 0), (0, 0, 255)), RGB_8)
    assert first_frame.source_format == "GIF"
    np.testing.assert_array_equal(first_frame.pixels, np.broadcast_to([255, 0, 0], (8, 8, 3)))


def test_non_square_images_are_center_cropped_or_padded_with_black():
    wide = noise((8, 11), seed=6)                  # 3 extra columns: crop starts at column 1
    np.testing.assert_array_equal(pixels(encode(wide, "PNG"), GRAY_8)[..., 0], wide[:, 1:9])
    short = noise((5, 8), seed=7)                  # 3 missing rows: 1 above, 2 below
    padded = pixels(encode(short, "PNG"),
                    IngestOptions(ImageSpec(8, 1), IngestSettings(fit="pad")))[..., 0]
    np.testing.assert_array_equal(padded[1:6], short)
    assert not padded[0].any() and not padded[6:].any()


def test_resizing_is_antialiased_and_upscaling_keeps_flat_images_flat():
    checkerboard = (np.indices((32, 32)).sum(axis=0) % 2 * 255).astype(np.uint8)
    down = pixels(encode(checkerboard, "PNG"), GRAY_8)
    # An antialiased resize averages the checkerboard to mid-gray, not to aliased stripes.
    assert np.all(np.abs(down.astype(int) - 128) <= 2)
    up = pixels(encode(np.full((4, 4), 77, np.uint8), "PNG"), IngestOptions(ImageSpec(16, 1)))
    np.testing.assert_array_equal(up, np.full((16, 16, 1), 77, np.uint8))


@pytest.mark.parametrize("content,max_pixels,reason", [
    (b"", 100, EMPTY),
    (b"just some text, not pixels", 100, NOT_AN_IMAGE),
    (encode(noise((64, 64, 3)), "PNG")[:2000], 10**6, CORRUPT),
    (encode(noise((64, 64, 3)), "JPEG")[:1000], 10**6, CORRUPT),
    (encode(noise((8, 8, 3)), "TIFF"), 100, UNSUPPORTED),
    (png_header_only(100, 100), 9999, TOO_MANY_PIXELS),        # over the limit: our check
    (png_header_only(100_000, 100_000), 10**6, TOO_MANY_PIXELS),  # over twice: Pillow's
], ids=["empty", "text", "truncated-png", "truncated-jpeg", "tiff", "over-limit",
        "bomb"])
def test_unusable_content_is_rejected_with_its_reason(content, max_pixels, reason):
    with pytest.raises(ImageRejected) as rejected:
        normalize_image(content,
                        IngestOptions(ImageSpec(8, 1), IngestSettings(max_pixels=max_pixels)))
    assert rejected.value.reason == reason


def test_image_at_the_pixel_limit_is_accepted():
    settings = IngestOptions(ImageSpec(8, 1), IngestSettings(max_pixels=100))
    assert normalize_image(encode(noise((10, 10)), "PNG"), settings).source_height == 10


def test_example_holds_the_normalized_png_source_geometry_and_label():
    content = encode(noise((6, 10, 3)), "JPEG")
    example = image_to_example(content, "cats\\2019/a.jpg", RGB_8)
    decoded = np.asarray(Image.open(io.BytesIO(feature(example, features.IMAGE))))
    assert decoded.shape == (8, 8, 3)
    assert (feature(example, features.HEIGHT), feature(example, features.WIDTH),
            feature(example, features.CHANNELS)) == (6, 10, 3)
    assert feature(example, features.FORMAT) == b"JPEG"
    assert feature(example, features.LABEL) == b"cats"
    assert feature(example, features.PATH) == b"cats/2019/a.jpg"
    assert image_to_example(b"", "x/bad.png", RGB_8) == Rejection("x/bad.png", EMPTY)


def test_label_is_the_top_level_subfolder():
    assert label_of("dogs/2019/x.png") == "dogs"
    assert label_of("x.png") == ""
