"""Subject access requests: register, deadlines, discovery, redaction, bundles, delivery."""
