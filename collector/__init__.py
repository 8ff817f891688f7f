"""Ingest: bring sFlow datagrams and APIC endpoint state in, turn them into line protocol."""
