"""Sign-in pages beyond the password: school accounts (OpenID Connect), second factor, invitations and reset."""
