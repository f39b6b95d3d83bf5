"""Webhooks for integrators: parcel events written to an outbox in the transaction of the change,
delivered signed, in order per parcel, with retries, auto-disable and replay (docs/webhooks.md)."""
