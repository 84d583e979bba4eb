"""The dashboard (issue 11): a browser client built only on the public GraphQL API, and GraphiQL,
both served from files shipped in this package, so neither needs npm nor a CDN where it runs.

The sources are in the repository's `dashboard/` folder; `static/` is their committed build
(`npm --prefix dashboard ci && npm --prefix dashboard run build`).
"""
