#!/usr/bin/env bash
# Refresh the vendored front-end assets in static/vendor/ from the npm registry.
# The console never loads anything from a CDN: every asset it uses is copied here with its licence.
# Source-map comments are stripped because the maps are not vendored (collectstatic would fail on them).
set -euo pipefail
cd "$(dirname "$0")/.."
BOOTSTRAP=${BOOTSTRAP:-5.3.9}
HTMX=${HTMX:-2.0.11}
ICONS=${ICONS:-1.13.2}
CHARTJS=${CHARTJS:-4.6.1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "bootstrap@$BOOTSTRAP" "htmx.org@$HTMX" "bootstrap-icons@$ICONS" "chart.js@$CHARTJS" >/dev/null)
for f in "$work"/*.tgz; do d="${f%.tgz}"; mkdir -p "$d"; tar xzf "$f" -C "$d"; done
v=static/vendor
mkdir -p $v/bootstrap $v/htmx $v/bootstrap-icons/fonts $v/chartjs
cp "$work/bootstrap-$BOOTSTRAP/package/dist/css/bootstrap.min.css" \
   "$work/bootstrap-$BOOTSTRAP/package/dist/js/bootstrap.bundle.min.js" \
   "$work/bootstrap-$BOOTSTRAP/package/LICENSE" $v/bootstrap/
cp "$work/htmx.org-$HTMX/package/dist/htmx.min.js" "$work/htmx.org-$HTMX/package/LICENSE" $v/htmx/
cp "$work/bootstrap-icons-$ICONS/package/font/bootstrap-icons.min.css" \
   "$work/bootstrap-icons-$ICONS/package/LICENSE" $v/bootstrap-icons/
cp "$work/bootstrap-icons-$ICONS/package/font/fonts/bootstrap-icons.woff2" \
   "$work/bootstrap-icons-$ICONS/package/font/fonts/bootstrap-icons.woff" $v/bootstrap-icons/fonts/
cp "$work/chart.js-$CHARTJS/package/dist/chart.umd.min.js" "$work/chart.js-$CHARTJS/package/LICENSE.md" $v/chartjs/
sed -i '/sourceMappingURL=/d' $v/bootstrap/bootstrap.min.css $v/bootstrap/bootstrap.bundle.min.js $v/chartjs/chart.umd.min.js
cat > $v/VERSIONS.md <<TXT
# Vendored front-end assets

Refreshed by \`scripts/vendor-assets.sh\` from the npm registry. Each folder keeps its upstream licence.

| package | version | licence | files |
| --- | --- | --- | --- |
| bootstrap | $BOOTSTRAP | MIT (\`bootstrap/LICENSE\`) | \`bootstrap.min.css\`, \`bootstrap.bundle.min.js\` (includes Popper, MIT) |
| htmx.org | $HTMX | 0BSD (\`htmx/LICENSE\`) | \`htmx.min.js\` |
| bootstrap-icons | $ICONS | MIT (\`bootstrap-icons/LICENSE\`) | \`bootstrap-icons.min.css\`, \`fonts/\` |
| chart.js | $CHARTJS | MIT (\`chartjs/LICENSE.md\`) | \`chart.umd.min.js\` (the dashboard's charts) |
TXT
cat >> $v/VERSIONS.md <<'TXT'

Chart.js rather than uPlot: maintained, no dependency, draws on a canvas without inline styles or
`eval` (the CSP allows neither), and has bar + line on two axes and responsive resizing built in.
Each chart has a text alternative on the page (a summary and a table of the numbers).
TXT
echo "vendored: bootstrap $BOOTSTRAP, htmx $HTMX, bootstrap-icons $ICONS, chart.js $CHARTJS"
