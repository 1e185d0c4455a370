#!/usr/bin/env bash
# Downloads GOV.UK's current list of UK bank holidays into
# window/bank-holidays.json (embedded in the binary), checks it with the
# window package's tests and keeps the old file if they fail. Needs internet
# access; rebuild and commit afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

url="https://www.gov.uk/bank-holidays.json"
file=window/bank-holidays.json
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.old"' EXIT

curl -fsSL --max-time 60 "$url" -o "$tmp"
cp "$file" "$tmp.old"
cp "$tmp" "$file"
if ! go test -count=1 -run 'BankHoliday|Coverage|GovUK' ./window/; then
	cp "$tmp.old" "$file"
	echo "refresh-bank-holidays: the downloaded list failed the checks; $file is unchanged" >&2
	exit 1
fi
first=$(grep -o '"date": *"[0-9]\{4\}' "$file" | grep -o '[0-9]\{4\}' | sort | head -1)
last=$(grep -o '"date": *"[0-9]\{4\}' "$file" | grep -o '[0-9]\{4\}' | sort | tail -1)
echo "window/bank-holidays.json now covers $first to $last. Update window/README.md, rebuild and commit."
