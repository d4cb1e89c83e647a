"""Flask-Admin: inspection and repair of plain records, role- and school-checked."""
