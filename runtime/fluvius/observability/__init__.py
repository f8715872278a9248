"""What a running service tells its operators: Prometheus metrics (`FLUVIUS_METRICS=on`)."""
