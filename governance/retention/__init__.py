"""Retention: schedules, eligibility, holds, disposition batches, destruction, certificates."""
