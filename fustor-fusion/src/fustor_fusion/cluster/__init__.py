"""Cluster mode: several Fusion nodes serve the same views from one shared journal.

Each view has one **owner** at a time — the node holding the view's lease in the shared store
(:class:`fustor_core.cluster.SharedJournal`). The owner takes the agents' ingest, records every
input to the journal before it answers, ticks, snapshots and trims, exactly as a single Fusion
does. Every other node configured for the view is a **replica**: it loaded the same snapshot,
follows the journal and replays each record on its own copy (the view is a deterministic
function of its records), serves queries from it and sends ingest to the owner (307).

* :mod:`.state` — a view's role and what this node knows of its lease; the refusals.
* :mod:`.follower` — a replica applying the journal's new records as they are committed.
* :mod:`.member` — the ownership loop: claim/renew the lease, take over, step down.
* :mod:`.routing` — the HTTP side: 307 to the owner, 503 without one.
"""
