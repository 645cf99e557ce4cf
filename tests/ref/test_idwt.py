"""test_idwt — placeholder."""
raise SystemExit("not written yet")
