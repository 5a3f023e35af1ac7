"""The SQLite index: a cache of the run files, for fast queries.

It is never the only copy of anything: a missing, corrupt or outdated index is
rebuilt from the files, also under a long-running reader (``mlcli server``, ``mlcli
ui``): each call first checks that the file is still the one it opened (another process
may have rebuilt it), and a damaged database is discarded and rebuilt on the spot.
Readers keep it fresh incrementally:

- ``runs/`` is listed only when its stamp (inode, mtime, ctime, link count) differs
  from the one recorded at the last listing: then new run folders are found and
  vanished ones dropped, against the indexed run ids (never their whole rows);
- runs the index holds as live (RUNNING, SCHEDULED), selected by SQL, are checked by
  ``stat`` and read again from the byte offset already indexed;
- finished runs are read again only when the change journal names them.

So a refresh of a store where nothing changed costs a few stats plus one per live
run; one where runs came or went, one directory listing more; however many finished
runs the store holds. (The rule for trusting a stamp: ``refresh``'s docstring.)

The modules: ``schema`` (the tables), ``connection`` (opening the file, damage, the
read-only fallback), ``run_index`` (``RunIndex``, what callers use), ``refresh`` (the
above), ``updates`` and ``experiments`` (writing what the files say), ``session`` (what
a refresh works on), ``rows`` (rows into run dicts and Metric values).
"""

from mlcli.store.index.refresh import ProgressCallback, RefreshResult
from mlcli.store.index.run_index import RunIndex
from mlcli.store.index.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "ProgressCallback", "RefreshResult", "RunIndex"]
