"""custops tickets service."""
