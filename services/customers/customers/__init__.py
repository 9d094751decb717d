"""custops customers service."""
