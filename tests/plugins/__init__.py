"""Tests for the Airflow adapters in plugins/governance_airflow."""
