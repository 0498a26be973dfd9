"""Monitoring: Prometheus metrics (``metrics``), the instruments that feed them (an ASGI
middleware, SQLAlchemy engine events, self-timing engine wrappers) and ``GET /metrics``."""
