"""test_dwt — placeholder."""
raise SystemExit("not written yet")
