"""Sweeps: running a scenario's runs on local processes or Dask, resumably."""
