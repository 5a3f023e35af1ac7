"""Files done safely, for every part of mlcli: atomic writes and appends
(``fileio``), locks (``lock``), copying and walking trees without following links out
(``trees``), folders a Unix group shares (``sharing``), finding a git work tree
(``worktree``)."""
