"""CloudAudit common library: settings, event contracts, bus, database and embedded servers."""

__version__ = "0.1.0"
