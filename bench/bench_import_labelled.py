"""Import accuracy on the hand-labelled exports, per file (tests/data/exports/labels.tsv).

    OPENBLAS_NUM_THREADS=1 MOVIEBOT_MOVIELENS_DIR=../shared/data/movielens \
        python -m bench.bench_import_labelled

Prints, per export file: in-catalog rows resolved to the labelled movie, rows resolved to another
movie (wrong), and films labelled absent that were reported absent.
"""

from __future__ import annotations

import os
from pathlib import Path

from recsys.imports import ImportResolver, read_export
from recsys.movielens import get_release, load_catalog, load_ratings

EXPORTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "exports"


def main() -> None:
    release = get_release("ml-latest-small")
    folder = Path(os.environ.get("MOVIEBOT_MOVIELENS_DIR", "../shared/data/movielens"))
    folder = folder / release.name
    catalog = load_catalog(folder, release, load_ratings(folder, release))
    resolver = ImportResolver.build(catalog)
    labels: dict[str, dict[int, str]] = {}
    for line in (EXPORTS / "labels.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        name, row, expected, *_ = line.split("\t")
        labels.setdefault(name, {})[int(row)] = expected
    print(f"{'file':<28} {'in catalog right':>18} {'wrong':>6} {'absent reported':>16}")
    for name, wanted in sorted(labels.items()):
        rows, _ = read_export((EXPORTS / name).read_bytes(), name)
        results = resolver.resolve_rows(rows)
        inside = [r for r in results if wanted[r.row] not in ("absent", "skip")]
        right = sum(r.movie_id == int(wanted[r.row]) for r in inside)
        wrong = sum(r.movie_id is not None and r.movie_id != int(wanted[r.row]) for r in inside)
        absent = [r for r in results if wanted[r.row] == "absent"]
        told = sum(r.movie_id is None for r in absent)
        share = f"{right}/{len(inside)} ({100 * right / max(len(inside), 1):.1f}%)"
        print(f"{name:<28} {share:>18} {wrong:>6} {f'{told}/{len(absent)}':>16}")


if __name__ == "__main__":
    main()
