"""asv (airspeed velocity) benchmarks for fastloss.

Every suite is parametrised over the case (``shape`` = n_samples x n_classes),
``dtype``, ``n_threads`` and ``implementation`` ("fastloss", or "numpy" =
``fastloss._reference``, the pure-NumPy oracle). Data are seeded and built in
``setup``; each ``time_*`` method holds only the call and has a ``peakmem_*``
twin. The NumPy reference is single-threaded, so its ``n_threads > 1``
combinations are skipped (``NotImplementedError`` in ``setup``).

Offline, against the installed package (from the repository root)::

    asv machine --yes
    asv check --python=same
    asv run --python=same --quick        # smoke run; results are not saved
    asv run -E existing:$(which python) --set-commit-hash $(git rev-parse HEAD)
    asv publish                          # HTML in .asv/html

``asv continuous main HEAD`` builds both commits in fresh virtualenvs (needs
PyPI). Never compare ``--quick`` runs: one sample is too noisy.
"""
