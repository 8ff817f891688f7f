"""Storage: the only code that knows InfluxDB (line protocol, writer, spool, queries)."""
