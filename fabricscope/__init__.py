"""The fabricscope CLI, settings, orchestration and the managed local InfluxDB."""

__version__ = "0.1.0"
