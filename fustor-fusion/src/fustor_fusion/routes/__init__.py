"""HTTP handlers, one module per audience: agents (ingest), readers (query), operators (meta)."""
