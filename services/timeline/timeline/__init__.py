"""custops timeline service."""
