"""A store that several server processes on several hosts share (``mlcli server
--store s3://bucket/prefix --index postgresql://...``): no state on any server's disk.

What lives where (the rule; docs/server.md says it for operators):

- **PostgreSQL** holds the index that search reads (experiments, runs, params, tags,
  latest metrics, in the same tables as the local SQLite index), and the *buffer*:
  every param, tag and metric line a request writes, committed in the same
  transaction as the index rows it changes. An acknowledged write is durable once
  PostgreSQL has committed it. It also holds logged models and the model registry.
- **The bucket** holds each run in the layout of a remote (``mlcli.store.sync.keys``,
  DESIGN.md 8.2): the run's manifest, its logs as immutable segments, its artifacts.
  ``flush.py`` moves a run's buffered lines into one segment and names it in the
  manifest, then drops them from the buffer; so the bucket alone, once flushed, is a
  store that ``mlcli clone``/``pull`` read, and points never cost one object write each.

Readers see buffered and flushed lines as one log: segments first, then the buffer.
Writes to one run are serialised by a lock on its row, so the buffer's order is the
order the writes committed in.
"""
