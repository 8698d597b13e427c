"""Staff accounts: roles and what each may do, password hashing, the sign-in throttle, signed
session cookies and the sign-in itself.

- ``roles``: the roles, the table of actions each may take, ``may``/``require`` and ``Staff``.
- ``passwords``: argon2id hashes (argon2-cffi).
- ``throttle``: per client and per username, a growing wait after repeated failures.
- ``cookies``: the signed session cookie (itsdangerous) and its key in the data folder.
- ``signin``: the first admin, sign-in and sign-out over the store; ``web``: the HTTP routes and the
  upload guard that ``server.py`` mounts.

The store (``campaigns.store``) keeps the accounts, the sessions (a hash of each secret) and the audit
log; nothing here writes SQL.
"""
