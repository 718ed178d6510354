"""Figures and reports made from a Timeline (plots now; HTML/PDF session reports with the app)."""
