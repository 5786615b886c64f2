"""Ingest: the image ExampleGen (`component`), its Beam job, image decoding, the TFDS
source, the ingestion report and the stage's settings."""
