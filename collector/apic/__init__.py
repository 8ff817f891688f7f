"""Cisco ACI APIC: client, subscriptions, endpoint tracker, points."""
