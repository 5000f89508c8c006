"""The case state machine, routing, clocks, and the Prefect flows for the time-driven work."""
