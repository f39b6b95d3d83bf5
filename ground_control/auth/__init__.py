"""Authentication and authorisation of the HTTP API: users (argon2 passwords, short-lived JWT
access tokens), API keys for integrations, roles, optional hub scoping, and the one policy table
that says which role may call which operation (``policy``)."""
