"""The delivery engine: audience expansion, encryption, sending, retries, outcomes."""
