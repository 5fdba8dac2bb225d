"""Applications, agreements, acceptance and the agreement PDF."""
