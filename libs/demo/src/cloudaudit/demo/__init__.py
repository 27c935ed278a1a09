"""CloudAudit demo: a simulated AWS company, a local LLM stand-in, and the guided tour."""
