"""Users, personal tokens and per-experiment / per-model permissions for ``mlcli server``.

Opt-in: a server started with ``--auth-db PATH`` (a SQLite file) or ``--auth-db
postgresql://...`` (shared by several servers) authenticates every request (but the
probes) against that database and checks each endpoint's permission; without it
nothing here is loaded. Modelled on MLflow's basic-auth app (docs/server.md, "Users
and permissions"):

- ``levels``       READ < EDIT < MANAGE, and NO_PERMISSIONS
- ``credentials``  argon2 password hashes, random tokens stored as SHA-256
- ``database``     the auth database: users, tokens, permissions, settings
- ``connection``   what ``--auth-db`` names, and the interface of its two backends:
- ``sqlite``       one file, for the servers of one host
- ``postgres``     PostgreSQL (psycopg, the ``server`` extra), for a team's servers
- ``authenticate`` the ASGI middleware: Basic or Bearer, else 401
- ``rules``        what each route touches and the level it needs
- ``authorize``    a request's check against the rules, reply filtering, creators' grants
"""

# Where the authenticated user's name travels in the ASGI scope (a scope key, not the
# ``mlcli.user`` tag): set by ``authenticate``, read by the app and ``authorize``.
USER_KEY = "mlcli_user"
