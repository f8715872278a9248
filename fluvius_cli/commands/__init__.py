"""One module per `fluvius` verb."""
