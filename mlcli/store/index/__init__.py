"""The SQLite index: a cache of the run files, for fast queries.

It is never the only copy of anything: a missing, corrupt or outdated index is
rebuilt from the files, also under a long-running reader (``mlcli server``, ``mlcli
ui``): each call first checks that the file is still the one it opened (another process
may have rebuilt it), and a damaged database is discarded and rebuilt on the spot.
Readers keep it fresh incrementally:

- new run folders are found by listing ``runs/``; vanished ones are dropped;
- runs the index holds as live (RUNNING, SCHEDULED) are checked by ``stat`` and read
  again from the byte offset already indexed;
- finished runs are read again only when the change journal names them.

So a refresh costs one directory listing plus work proportional to what changed,
however many finished runs the store holds.

The modules: ``schema`` (the tables), ``connection`` (opening the file, damage, the
read-only fallback), ``run_index`` (``RunIndex``, what callers use), ``refresh`` (the
above), ``updates`` and ``experiments`` (writing what the files say), ``session`` (what
a refresh works on), ``rows`` (rows into run dicts and Metric values).
"""

from mlcli.store.index.refresh import ProgressCallback, RefreshResult
from mlcli.store.index.run_index import RunIndex
from mlcli.store.index.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "ProgressCallback", "RefreshResult", "RunIndex"]
