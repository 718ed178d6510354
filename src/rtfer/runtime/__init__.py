"""Inference-side plumbing: weights on disk and running models on face crops."""
