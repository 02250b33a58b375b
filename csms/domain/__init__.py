"""Value types and entities of the charging domain. Pure: no I/O, no trio."""
