"""Sample-quality measures and the feature extractors they compare images in."""
