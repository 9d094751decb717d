"""Event contracts, one module per producing service. `docs/events.md` is generated from them."""
