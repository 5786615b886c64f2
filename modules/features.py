"""Feature names shared by ingest (ExampleGen), Transform, Trainer and evaluation."""

# Written by the image ExampleGen (raw tf.Examples).
IMAGE = "image"          # PNG, already normalized: [size, size, channels], 8-bit
HEIGHT = "height"        # of the source image, after EXIF orientation
WIDTH = "width"
CHANNELS = "channels"    # colour channels of the source: 1 (grayscale content) or 3
FORMAT = "format"        # the source's format, as Pillow names it (PNG, JPEG, WEBP, ...)
LABEL = "label"          # class subfolder name; b"" when the image has none
PATH = "path"            # path relative to the input folder

# Written by Transform (transformed tf.Examples).
PIXELS = "pixels"        # float32 [size, size, channels] in [-1, 1]
LABEL_ID = "label_id"    # int64 index into the label vocabulary; -1 when unlabeled
LABEL_VOCABULARY = "label_vocabulary"

# Reduced weight precisions a generator can be exported with (`modules.export`); here, in a
# module free of TensorFlow, so the runner validates the setting before TensorFlow loads.
COMPRESSED_PRECISIONS = ("float16", "int8")
