"""CloudAudit common library: settings, event contracts, bus, database and embedded servers."""
