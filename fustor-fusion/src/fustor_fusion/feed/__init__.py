"""The change feed: what each input of a view changed, numbered, durable, and followed by clients.

* :mod:`.outcome` — an input's *outcome*: the nodes it wrote, deleted or re-flagged, in the
  compact form kept in the journal beside the input, and the feed entries it stands for;
* :mod:`.tracking` — ``ChangeTracker``: collects what the current input changes (tree writes
  through the merge-rule hooks, flag transitions through the watched lists) and makes its
  outcome when the input ends; :mod:`.hooks` is the plugin that tells it about tree writes;
* :mod:`.cursor` — the opaque cursor: view incarnation, journal record, change number;
* :mod:`.changelog` — ``ChangeFeed``: one datastore's published changes, recent ones in memory,
  older ones read back from the journal, and the wake-up of waiting clients.

Every entry is numbered (``seq``) by one counter per view incarnation, in apply order. Numbers
are assigned when the input is recorded and published only once its journal record is durable,
so a client never sees a change that a crash could take back.
"""
