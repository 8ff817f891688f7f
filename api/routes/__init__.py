"""Routers of the HTTP API and UI: one module per area, all mounted by api/app.py."""
