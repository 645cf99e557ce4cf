"""test_conv — placeholder."""
raise SystemExit("not written yet")
