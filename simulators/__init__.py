"""Simulators: fabric model + scenarios, APIC REST/websocket server, sFlow agents."""
