"""State revisions, oldest first: 0001_state_baseline, then one file per change."""
