"""Security: API keys and their hashes, identity-provider tokens, roles, rate limits.

Pure functions and small classes on plain data, below the registry in the layers: the
registry stores keys with :mod:`.keys`, the serving front ends guard every request with
the service layer's authenticator, which uses all of these.
"""
