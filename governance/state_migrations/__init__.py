"""Alembic chain for the platform state tables (a package so a wheel ships env.py and versions/)."""
