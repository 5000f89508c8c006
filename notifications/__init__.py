"""Outbox fan-out, live delivery (WebSocket hub, PostgreSQL LISTEN/NOTIFY) and external channels."""
