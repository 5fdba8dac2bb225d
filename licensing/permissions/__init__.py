"""Educational permission requests: the public form, the staff queue, decision letters."""
