"""Zero-code capture around ``mlcli run``: what an entry point's run records without
the entry point calling mlcli.

    scalars.py          output lines -> metrics (``loss: 0.5``; custom regexes)
    scalar_stream.py    the entry point's stdout, parsed and logged as it arrives
    process_tree.py     CPU, memory and I/O counters of a process tree (/proc; psutil)
    gpu.py              NVIDIA GPU figures through NVML or nvidia-smi
    system_metrics.py   the sampler thread logging ``system/...`` metrics
    listing.py          the package listing script, run by an environment's own python
    environment.py      that listing as requirements.txt; machine facts as tags

The hooks ``mlcli run`` calls, and its options, are ``mlcli.projects.capture``;
scikit-learn's autologging lives in ``mlcli.autologging``. See docs/capture.md.
"""
