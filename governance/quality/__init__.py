"""Data quality: Great Expectations suites over the case stores, and quarantine."""
