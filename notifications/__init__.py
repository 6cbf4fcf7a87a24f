"""Delivery of change digests: the email and feed channels and the outbox protocol that
delivers every change exactly once per channel (see docs/architecture.md)."""
