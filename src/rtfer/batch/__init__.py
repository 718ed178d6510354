"""Batch analysis of a study: many recordings on a Dask cluster, one study table (``rtfer batch``)."""
