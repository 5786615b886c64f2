"""Validation: the configured schema and the anomalies gate (`component`), and the schema rules."""
