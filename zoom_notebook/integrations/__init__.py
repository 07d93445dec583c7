"""Adapters for other people's tools: ``zoom_notebook.tqdm`` and ``zoom_notebook.dask``
(each drives the public ``Progress`` surface of ``features.alerts``)."""
