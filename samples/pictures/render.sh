#!/usr/bin/env bash
# The README's pictures, rendered from the real files: the report of the bundled sample run against the
# built-in simulator, and the template, each turned into PDF by LibreOffice (headless) and into PNG by
# pdftoppm. Needs soffice (Debian: libreoffice-calc-nogui) and pdftoppm (poppler-utils).
#   bash samples/pictures/render.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="$root/.venv/bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export XDG_STATE_HOME="$work/state"      # the picture's run never touches the user's ledgers

cd "$root"                               # the report names the files as a person there would
"$bin/tango-batch" run samples/recipients.xlsx --config samples/campaign.toml --target simulator \
  --output "$work/out" --ledger "$work/ledger.sqlite" --yes --wait 60 2>/dev/null || test $? -le 1
"$bin/tango-batch" template --config samples/campaign.toml --output "$work/template.xlsx" 2>/dev/null
report="$(ls "$work"/out/recipients-*/report.xlsx)"

# the pages as a person sees them first: the Summary; the first columns and rows of Rows; the template
"$bin/python" - "$report" "$work" <<'PY'
import sys
import openpyxl
report, work = sys.argv[1], sys.argv[2]
wb = openpyxl.load_workbook(report)
del wb["Summary"]                       # (openpyxl keeps no chart: the Summary is rendered from the report itself)
rows = wb["Rows"]
for r in range(2, 46):                  # the sample's first rows are all done: show the ones that are not
    rows.row_dimensions[r].hidden = True
rows.print_area = "A1:I64"
rows.page_setup.orientation = "landscape"
rows.sheet_properties.pageSetUpPr.fitToPage = True
rows.page_setup.fitToWidth, rows.page_setup.fitToHeight = 1, 0
wb.save(f"{work}/rows.xlsx")
PY
cd "$work"
cp "$report" summary.xlsx
for f in summary rows template; do soffice --headless --convert-to pdf "$f.xlsx" >/dev/null 2>&1; done
pdftoppm -png -singlefile -r 80 -f 1 -l 1 -W 1100 -H 520 summary.pdf "$here/report-summary"
pdftoppm -png -singlefile -r 80 -f 1 -l 1 -W 1100 -H 520 rows.pdf "$here/report-rows"
pdftoppm -png -singlefile -r 80 -f 2 -l 2 -W 1100 -H 520 template.pdf "$here/template-instructions"
ls "$here"/*.png
