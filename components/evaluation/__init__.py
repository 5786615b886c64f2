"""Evaluation: the FID evaluator (`component`), the scoring, the quality gate, the
evaluation record (`result`), the feature extractors and the HTML report."""
