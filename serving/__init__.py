"""Talking to a TF Serving generator endpoint (no TFX, no project model code needed)."""
