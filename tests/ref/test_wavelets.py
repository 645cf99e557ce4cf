"""test_wavelets — placeholder."""
raise SystemExit("not written yet")
