"""The database: the seed's four tables, engines for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""
