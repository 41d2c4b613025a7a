"""Registry: the control plane (users, API keys, datastores, storage environments, credentials)."""
