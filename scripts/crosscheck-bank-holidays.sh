#!/usr/bin/env bash
# Compares window/bank-holidays.json with an independent, maintained source:
# the npm package date-holidays (its GB data, regions ENG, SCT and NIR), for
# the years FIRST to LAST (default 2025 to the last year in the file). A
# holiday at a weekend is compared as GOV.UK lists it: by its substitute
# day. Prints the differences and exits 1 when there are any. Needs node and
# npm with access to the npm registry; changes nothing.
#
# usage: scripts/crosscheck-bank-holidays.sh [FIRST LAST]
set -euo pipefail
cd "$(dirname "$0")/.."

file=$PWD/window/bank-holidays.json
first=${1:-2025}
last=${2:-$(grep -o '"date": *"[0-9]\{4\}' "$file" | grep -o '[0-9]\{4\}' | sort | tail -1)}
command -v node >/dev/null && command -v npm >/dev/null || { echo "crosscheck-bank-holidays: needs node and npm" >&2; exit 2; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(cd "$dir" && npm install --silent --no-audit --no-fund date-holidays@3 >/dev/null)
cat > "$dir/check.cjs" <<'JS'
const Holidays = require('date-holidays');
const [file, first, last] = process.argv.slice(2);
const ours = require(file);
const regions = {'england-and-wales': 'ENG', 'scotland': 'SCT', 'northern-ireland': 'NIR'};
let differ = 0;
for (const [name, region] of Object.entries(regions)) {
  const hd = new Holidays('GB', region);
  const theirs = new Set();
  for (let y = +first; y <= +last; y++) {
    for (const h of hd.getHolidays(y)) {
      if (h.type !== 'public' && h.type !== 'bank') continue;
      const day = new Date(h.date.slice(0, 10) + 'T12:00:00Z').getUTCDay();
      if (day !== 0 && day !== 6) theirs.add(h.date.slice(0, 10));
    }
  }
  const mine = new Set(ours[name].events.map(e => e.date).filter(d => d.slice(0, 4) >= first && d.slice(0, 4) <= last));
  for (const d of mine) if (!theirs.has(d)) { console.log(`${name}: ${d} only in bank-holidays.json`); differ++; }
  for (const d of theirs) if (!mine.has(d)) { console.log(`${name}: ${d} only in date-holidays`); differ++; }
  console.log(`${name}: ${mine.size} days ${first}-${last} in bank-holidays.json, ${theirs.size} in date-holidays`);
}
process.exit(differ ? 1 : 0);
JS
(cd "$dir" && node check.cjs "$file" "$first" "$last")
echo "crosscheck-bank-holidays: window/bank-holidays.json agrees with date-holidays for $first-$last"
