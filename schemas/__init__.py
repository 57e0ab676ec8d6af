"""Schemas, maps and code lists the gateway validates against (data only: gateway/resources.py)."""
