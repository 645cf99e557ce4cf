"""test_sepconv — placeholder."""
raise SystemExit("not written yet")
