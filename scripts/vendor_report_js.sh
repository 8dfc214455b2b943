#!/usr/bin/env bash
# Refresh the JavaScript bundled into `kerasport report` pages (src/kerasport/report/static):
# Cytoscape.js (drawing, pan and zoom) and dagre (layered graph layout), from the npm registry
# at pinned versions. The page inlines them, so a report opens with no network access.
set -euo pipefail
CYTOSCAPE=3.34.4
DAGRE=3.1.3
dest="$(cd "$(dirname "$0")/.." && pwd)/src/kerasport/report/static"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "cytoscape@$CYTOSCAPE" "@dagrejs/dagre@$DAGRE" >/dev/null
tar xzf "cytoscape-$CYTOSCAPE.tgz" && mv package cytoscape
tar xzf "dagrejs-dagre-$DAGRE.tgz" && mv package dagre
cp cytoscape/dist/cytoscape.min.js dagre/dist/dagre.min.js "$dest/"
{
  echo "# Bundled JavaScript (written by scripts/vendor_report_js.sh; MIT licensed)"
  echo
  echo "| file | package | sha256 |"
  echo "| --- | --- | --- |"
  echo "| cytoscape.min.js | cytoscape $CYTOSCAPE | $(sha256sum "$dest/cytoscape.min.js" | cut -c1-16) |"
  echo "| dagre.min.js | @dagrejs/dagre $DAGRE | $(sha256sum "$dest/dagre.min.js" | cut -c1-16) |"
  echo
  echo "## cytoscape license"
  echo
  cat cytoscape/LICENSE
  echo
  echo "## dagre license"
  echo
  cat dagre/LICENSE
} > "$dest/LICENSES.md"
echo "vendored cytoscape $CYTOSCAPE and @dagrejs/dagre $DAGRE into $dest"
