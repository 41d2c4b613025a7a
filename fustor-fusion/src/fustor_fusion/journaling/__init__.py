"""Durable views: each view's inputs go to a journal before they are acknowledged, and snapshots
of the whole view let a restarted Fusion load it instead of waiting for the agents to re-walk
their exports.

* :mod:`.inputs` — record kinds, payload encoding, the pinned clock;
* :mod:`.recording` — ``JournaledView``, the view that records its inputs;
* :mod:`.replay` — the same calls again, from records;
* :mod:`.view_snapshot` — the whole view as snapshot chunks and back;
* :mod:`.writer` — appending records: inline while cheap, else a thread with group commit;
* :mod:`.policy` — when to snapshot;
* :mod:`.keeper` — ``ViewJournal``: load at start, record, snapshot, close.

The storage of records and snapshots is a plugin (:mod:`fustor_core.journal`).
"""
