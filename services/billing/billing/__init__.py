"""custops billing service."""
