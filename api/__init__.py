"""Query API and web UI (FastAPI + Jinja2) over influx.query."""
