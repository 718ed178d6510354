"""Scoring weights on labelled faces: metrics, intensity checks, figures. Needs no PyTorch (training uses
it too, on its own models)."""
