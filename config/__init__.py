"""The default configuration and reference data (data only, see gateway/resources.py)."""
