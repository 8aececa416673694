"""Authentication and authorization at the HTTP edge (``trackledger server --auth``).

- ``hosts``: the Host header check (DNS rebinding) and CORS, whether or not auth is on;
- ``credentials``: who is calling (Basic, Bearer token, session cookie), verified once and
  cached, failed logins rate-limited;
- ``access``: what a user may do with an experiment or registered model (grants, roles,
  the default permission), cached briefly;
- ``rules`` and ``table``: the permission each route needs; ``guard`` enforces it in front
  of every route (a route without a rule is admin-only, and a test fails);
- ``scope``: searches answered only with what the caller may read;
- ``users``, ``roles``, ``grants``, ``tokens``, ``session``: MLflow's basic-auth REST API and
  trackledger's access tokens and browser login.
"""
