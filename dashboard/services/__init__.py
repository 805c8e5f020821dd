"""The central's services over storage: credentials and keys, imports, exports."""
