"""Evaluation: the FID evaluator (`component`), the scoring, the quality gate, the evaluation record, the extractors and the HTML report."""
