"""The SQLite registry, the workspace folder and the R2 mirror."""
