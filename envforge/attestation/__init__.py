"""Attestations: `verify --attest FILE` writes an in-toto Statement v1 of a verdict (statement.py);
`envforge check-attestation FILE URI` checks a model against one before it is deployed (checking.py).
Signing the file is the user's (docs/attestation.md); the digests are envforge's."""
