"""Understanding one mention: its text, language, sentiment, terms, copies and
triage class, and the enrichment that puts them on it. Pure code, no I/O."""
