"""The portable SQL of every storage area, shared by the SQLite and PostgreSQL back ends."""
