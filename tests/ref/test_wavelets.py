"""test_wavelets — `convoy wavelets [NAME]` against PyWavelets.

For every name of pywt.wavelist(kind='discrete'): the four filters must equal
pywt's bit for bit (float64, sign of zero included) and the properties must
match; the list must hold exactly pywt's names, in order, with their short
family names; lookup is case-insensitive; an unknown name exits non-zero.
Needs CONVOY_BIN (the convoy CLI). Run with /usr/bin/python3.
"""
import json
import os
import struct
import subprocess
import sys

import pywt

BIN = os.environ.get("CONVOY_BIN")
KEYS = {"name", "family", "filters", "orthogonal", "biorthogonal", "symmetry",
        "vanishing_moments_psi", "dec_len"}
FILTERS = ("dec_lo", "dec_hi", "rec_lo", "rec_hi")

passed = 0
failures = []


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(*args):
    return subprocess.run([BIN, "wavelets", *args], capture_output=True, text=True, timeout=60)


def bits(v):
    return struct.pack("<d", float(v))


def check_wavelet(query, expect_name):
    p = run(query)
    if p.returncode != 0:
        check(False, f"wavelets {query}: exit {p.returncode}: {p.stderr.strip()}")
        return
    try:
        got = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        check(False, f"wavelets {query}: not JSON ({e}): {p.stdout[:200]!r}")
        return
    w = pywt.Wavelet(expect_name)
    check(set(got) == KEYS, f"{query}: keys {sorted(got)} != {sorted(KEYS)}")
    check(got.get("name") == expect_name, f"{query}: name {got.get('name')!r} != {expect_name!r}")
    check(got.get("family") == w.short_family_name,
          f"{query}: family {got.get('family')!r} != {w.short_family_name!r}")
    filters = got.get("filters") or {}
    check(set(filters) == set(FILTERS), f"{query}: filter keys {sorted(filters)}")
    for key in FILTERS:
        ref = getattr(w, key)
        taps = filters.get(key) or []
        if len(taps) != len(ref):
            check(False, f"{query}.{key}: {len(taps)} taps != pywt's {len(ref)}")
            continue
        bad = [i for i, (a, b) in enumerate(zip(taps, ref))
               if not isinstance(a, (int, float)) or bits(a) != bits(b)]
        check(not bad, f"{query}.{key}: taps {bad[:5]} differ, e.g. "
              f"{taps[bad[0]] if bad else None!r} vs {ref[bad[0]] if bad else None!r}")
    check(got.get("orthogonal") is w.orthogonal,
          f"{query}: orthogonal {got.get('orthogonal')!r} != {w.orthogonal}")
    check(got.get("biorthogonal") is w.biorthogonal,
          f"{query}: biorthogonal {got.get('biorthogonal')!r} != {w.biorthogonal}")
    check(got.get("symmetry") == w.symmetry, f"{query}: symmetry {got.get('symmetry')!r} != {w.symmetry!r}")
    vm = got.get("vanishing_moments_psi", "missing")
    check(vm == w.vanishing_moments_psi and type(vm) is type(w.vanishing_moments_psi),
          f"{query}: vanishing_moments_psi {vm!r} != {w.vanishing_moments_psi!r}")
    check(got.get("dec_len") == w.dec_len, f"{query}: dec_len {got.get('dec_len')!r} != {w.dec_len}")


def main():
    if not BIN or not os.access(BIN, os.X_OK):
        sys.exit(f"CONVOY_BIN is not set to an executable convoy CLI (got {BIN!r})")
    names = pywt.wavelist(kind="discrete")

    p = run()
    check(p.returncode == 0, f"wavelets: exit {p.returncode}: {p.stderr.strip()}")
    rows = [line.split() for line in p.stdout.splitlines() if line.strip()]
    check(all(len(r) == 2 for r in rows), f"wavelets: lines not 'name family': {rows[:3]}")
    check([r[0] for r in rows] == names,
          f"wavelets: names differ from pywt's ({len(rows)} listed, {len(names)} in pywt; "
          f"first difference {next(((a, b) for a, b in zip([r[0] for r in rows], names) if a != b), None)})")
    want = {n: pywt.Wavelet(n).short_family_name for n in names}
    wrong = [r for r in rows if len(r) == 2 and want.get(r[0]) != r[1]]
    check(not wrong, f"wavelets: wrong families {wrong[:5]}")

    for name in names:
        check_wavelet(name, name)
    for query, name in (("DB4", "db4"), ("Haar", "haar"), ("BIOR2.2", "bior2.2"), ("dMeY", "dmey")):
        check_wavelet(query, name)
    for bad in ("nosuch", "db39", "db", "sym1", "haar2"):
        p = run(bad)
        check(p.returncode != 0, f"wavelets {bad}: exit 0 for an unknown name")

    print(f"{passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
