"""Authentication (login, sessions) and authorisation (role and school)."""
