"""custops mailsync service."""
