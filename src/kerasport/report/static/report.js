// kerasport report: lays the layer graph out with dagre and draws it with Cytoscape.js
// (both bundled into the page), colours layers by the chosen target's error, shows a
// layer's details on click and finds layers by name.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("kp-data").textContent);
  const select = document.getElementById("kp-target");
  const details = document.getElementById("kp-details");
  const BUCKETS = [[1e-6, "#2e7d32"], [1e-4, "#9ccc65"], [1e-2, "#ffb300"],
                   [Infinity, "#e53935"]];

  function colour(error) {
    if (error === undefined || error === null) return "#b0bec5";
    if (typeof error === "string") return "#e53935";  // "inf" / "nan"
    for (const [limit, c] of BUCKETS) if (error < limit) return c;
    return "#e53935";
  }

  function label(layer) {
    return layer.name + "\n" + layer.kind + (layer.shape ? "\n" + layer.shape : "");
  }

  function positions() {
    const g = new dagre.graphlib.Graph();
    g.setGraph({rankdir: "TB", nodesep: 24, ranksep: 36});
    g.setDefaultEdgeLabel(function () { return {}; });
    for (const layer of data.layers) {
      const width = 14 + 7 * Math.max(layer.name.length, layer.kind.length,
                                      (layer.shape || "").length);
      g.setNode(layer.name, {width: Math.min(width, 320), height: 52});
    }
    for (const [a, b] of data.edges) g.setEdge(a, b);
    dagre.layout(g);
    const out = {};
    for (const name of g.nodes()) out[name] = {x: g.node(name).x, y: g.node(name).y};
    return out;
  }

  const pos = positions();
  const elements = data.layers.map(function (layer) {
    return {group: "nodes", data: {id: layer.name, label: label(layer),
            w: Math.min(14 + 7 * Math.max(layer.name.length, layer.kind.length,
                                          (layer.shape || "").length), 320),
            border: layer.supported ? "#37474f" : "#b71c1c"},
            position: pos[layer.name]};
  }).concat(data.edges.map(function (e, i) {
    return {group: "edges", data: {id: "e" + i, source: e[0], target: e[1]}};
  }));

  const cy = cytoscape({
    container: document.getElementById("kp-graph"),
    elements: elements,
    layout: {name: "preset"},
    minZoom: 0.05,
    maxZoom: 4,
    style: [
      {selector: "node", style: {
        "shape": "round-rectangle", "width": "data(w)", "height": 52,
        "background-color": "#b0bec5", "border-width": 2, "border-color": "data(border)",
        "label": "data(label)", "text-wrap": "wrap", "text-valign": "center",
        "font-size": 11, "font-family": "monospace"}},
      {selector: "node:selected", style: {"border-width": 4, "border-color": "#1565c0"}},
      {selector: "edge", style: {
        "width": 1.5, "line-color": "#90a4ae", "target-arrow-color": "#90a4ae",
        "target-arrow-shape": "triangle", "curve-style": "bezier"}},
    ],
  });

  const byName = {};
  for (const layer of data.layers) byName[layer.name] = layer;

  function paint() {
    const target = select.value;
    cy.nodes().forEach(function (node) {
      const errors = byName[node.id()].errors || {};
      node.style("background-color", colour(errors[target]));
    });
  }

  function fmt(x) {
    if (x === undefined || x === null) return "-";
    return typeof x === "string" ? x : Number(x).toExponential(2);
  }

  function show(name) {
    const layer = byName[name];
    const rows = data.target_names.map(function (t) {
      return "<tr><td>" + t + "</td><td>" + fmt((layer.errors || {})[t]) + "</td></tr>";
    }).join("");
    details.innerHTML = "";
    const head = document.createElement("h3");
    head.textContent = layer.name;
    details.appendChild(head);
    const facts = document.createElement("p");
    facts.textContent = layer.kind + ", output " + (layer.shape || "?") + ", " +
      layer.params.toLocaleString() + " parameters, " +
      (layer.supported ? "supported" : "NOT supported") +
      (layer.ops.length ? "; ops: " + layer.ops.join(", ") : "; no ops at inference");
    details.appendChild(facts);
    const table = document.createElement("table");
    table.innerHTML = "<tr><th>target</th><th>error vs float32</th></tr>" + rows;
    details.appendChild(table);
  }

  cy.on("tap", "node", function (evt) { show(evt.target.id()); });
  select.addEventListener("change", paint);
  document.getElementById("kp-search").addEventListener("change", function (evt) {
    const text = evt.target.value.toLowerCase();
    const hit = cy.nodes().filter(function (n) { return n.id().toLowerCase().includes(text); });
    cy.nodes().unselect();
    if (hit.length) {
      hit.select();
      cy.fit(hit, 80);
      show(hit[0].id());
    }
  });
  document.getElementById("kp-fit").addEventListener("click", function () { cy.fit(); });
  paint();
  cy.fit(cy.nodes().slice(0, 12), 30);
  window.kerasportReport = {cy: cy, data: data};
})();
