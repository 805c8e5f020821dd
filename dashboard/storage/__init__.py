"""The central's storage: one data layer over SQLite and PostgreSQL, one module per
aggregate, every table written by one module, one ordered list of migrations."""
