"""Campaign store, analysis and reports of the A/B emotion testing product.

Layers: ``types`` (frozen dataclasses), ``store`` (DuckDB, all SQL),
``analysis`` (pure functions), ``report`` and ``simulate`` (thin CLIs).
"""
