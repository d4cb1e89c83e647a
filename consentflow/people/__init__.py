"""People: the roster of students, staff and guardians, imported from school administration exports."""
