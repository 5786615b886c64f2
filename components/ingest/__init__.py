"""Ingest: the image ExampleGen (`component`), its Beam job, image decoding, the TFDS source, the report and the settings."""
