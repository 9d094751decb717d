"""custops reports service."""
