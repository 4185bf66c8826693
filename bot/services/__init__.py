"""Service functions: each owns one transaction. The only code that writes the database."""
