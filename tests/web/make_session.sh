#!/usr/bin/env bash
# Builds a small review session for the review-page test: 300 demo scenes, built-in embeddings,
# a session on the auto-picked class with labelling guidelines, and one open batch of 60 boxes.
# Usage: tests/web/make_session.sh CORECLEAN_BIN OUTDIR   → the session is OUTDIR/session
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 CORECLEAN_BIN OUTDIR" >&2
  exit 2
fi
BIN=$1
OUT=$2

rm -rf "$OUT"
mkdir -p "$OUT"
# The rules the reviewer sees in the guidelines panel (g); the page renders them as Markdown.
cat > "$OUT/guidelines.md" <<'RULES'
# Labelling rules

Decide for the **whole box**, not for the object you think was meant.

## Classes
- **Coat**: outerwear that opens at the front (buttons or a zip), usually long sleeves.
- **Pullover**: knitted top without an opening at the front, long sleeves.
- **Shirt**: collar and buttons; short or long sleeves.
- **T-shirt/top**: no collar, short sleeves or none.

## When to delete
1. The box misses its object (mostly background).
2. The box spans two objects.
3. The box duplicates another box on the same object.

If in doubt between two classes, keep the label and move on.
RULES
"$BIN" make-demo --out "$OUT/data" --images 300 --seed 7
"$BIN" embed --coco "$OUT/data/annotations.json" --images "$OUT/data/images" --out "$OUT/features"
"$BIN" init "$OUT/session" --features "$OUT/features" --coco "$OUT/data/annotations.json" \
  --images "$OUT/data/images" --guidelines "$OUT/guidelines.md"
"$BIN" next "$OUT/session" -n 60
