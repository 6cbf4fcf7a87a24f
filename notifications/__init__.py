"""Delivery of change digests (email, RSS/Atom). Arrives with the digest issue; the
cycle currently keeps every change in the store, where ``govwatch history`` shows it."""
