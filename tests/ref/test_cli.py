"""test_cli — placeholder."""
raise SystemExit("not written yet")
