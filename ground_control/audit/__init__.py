"""The audit trail of the HTTP API: every state-changing call by an authenticated principal,
with who, what, when, the outcome and the resource before and after (``GET /audit``)."""
