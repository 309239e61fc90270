// Meridian console: plain DOM code, no third-party script. Every operator string is set
// with textContent or setAttribute, never parsed as HTML. The admin token lives only in
// sessionStorage (this tab) and travels in the Authorization header, never in a URL.
"use strict";

const TOKEN_KEY = "meridian-admin-token";
const HEALTH_EVERY_MS = 2000;
const OVERVIEW_EVERY_MS = 10000;
const MAX_TRANSITIONS = 50;
const SVG_NS = "http://www.w3.org/2000/svg";

const state = { overview: null, health: new Map(), transitions: [], world: null };

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  const t = token();
  if (t) headers["Authorization"] = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store",
  });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    const why = data && data.error ? data.error : response.status + " " + response.statusText;
    const err = new Error(why);
    err.status = response.status;
    err.data = data;
    throw err;
  }
  return data;
}

// ---- views ---------------------------------------------------------------------------

function show(view) {
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== "view-" + view;
  }
  for (const tab of document.querySelectorAll("nav .tab")) {
    tab.classList.toggle("active", tab.dataset.view === view);
  }
  if (view === "services") renderServices();
}

function ago(unix) {
  if (!unix) return "never";
  const s = Math.max(0, Math.round(Date.now() / 1000 - unix));
  if (s < 120) return s + " s ago";
  if (s < 7200) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

// ---- health ----------------------------------------------------------------------------

// The server keeps the last health events (transitions with their reasons, overrides,
// removals), so the list is complete from the first poll, including what happened before
// the page was opened.
function noteHealth(data) {
  state.health = new Map((data.targets || []).map((t) => [t.target, t]));
  state.transitions = (data.recent || []).slice(0, MAX_TRANSITIONS);
}

function targetRow(t) {
  const probe = t.last_probe;
  const result = !probe ? "no probe yet"
    : probe.ok ? "ok" : "failed: " + (probe.error || "");
  const rtt = probe && typeof probe.rtt_ms === "number" ? probe.rtt_ms.toFixed(1) + " ms" : "";
  const votes = t.cluster && Array.isArray(t.cluster.votes)
    ? t.cluster.votes.map((v) => v.instance + ": " + v.state + (v.reason ? " (" + v.reason + ")" : "")).join(", ")
    : "";
  return el("tr", { "data-target": t.target },
    el("td", {}, t.target),
    el("td", {}, el("span", { class: "state state-" + t.state }, t.state)),
    el("td", {}, ago(t.since)),
    el("td", {}, result),
    el("td", {}, rtt),
    el("td", { class: t.forced ? "forced" : "" }, t.forced ? "forced" : ""),
    el("td", {}, votes));
}

function renderHealth() {
  const box = $("datacenters");
  const byDc = new Map();
  const placed = new Set();
  for (const dc of (state.overview && state.overview.datacenters) || []) {
    byDc.set(dc.name, dc.targets);
    dc.targets.forEach((t) => placed.add(t));
  }
  const other = [...state.health.keys()].filter((k) => !placed.has(k));
  if (other.length) byDc.set("(no datacenter)", other);
  const cluster = state.overview && state.overview.cluster;
  const blocks = [];
  for (const [name, keys] of byDc) {
    const rows = keys.map((k) => state.health.get(k)).filter(Boolean).map(targetRow);
    const up = keys.filter((k) => { const t = state.health.get(k); return t && (t.state === "up" || t.state === "unknown"); }).length;
    blocks.push(el("div", { class: "dc", "data-datacenter": name },
      el("h3", {}, name + " ", el("small", {}, up + " of " + keys.length + " targets up")),
      el("table", {},
        el("thead", {}, el("tr", {}, ...["Target", "State", "Since", "Last probe", "RTT", "Override", cluster ? "Votes" : ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows))));
  }
  box.replaceChildren(...blocks);
  $("transitions").replaceChildren(...state.transitions.map((tr) =>
    el("li", {}, new Date(tr.at_unix_ms).toLocaleTimeString() + " " + tr.target + ": "
      + (tr.from ? tr.from + " \u2192 " : "") + tr.to + (tr.reason ? " (" + tr.reason + ")" : ""))));
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

async function pollHealth() {
  try {
    const data = await api("GET", "/v1/health");
    noteHealth(data);
    renderHealth();
    showError("");
  } catch (e) {
    showError("health: " + e.message + (e.status === 401 ? " (enter the admin token)" : ""));
  }
}

async function pollOverview() {
  try {
    state.overview = await api("GET", "/v1/console");
    fillNames();
    // Targets are grouped by the overview's datacenters: regroup what is shown.
    if (state.health.size) renderHealth();
    if (!$("view-services").hidden) renderServices();
  } catch (e) {
    showError("overview: " + e.message);
  }
}

// ---- services and the map ------------------------------------------------------------

function renderServices() {
  const body = document.querySelector("#services tbody");
  const rows = [];
  for (const zone of (state.overview && state.overview.zones) || []) {
    rows.push(el("tr", { class: "zone" }, el("th", { colspan: 4 }, zone.origin)));
    for (const s of zone.services) {
      const pools = s.pools.map((p) => p.name + " " + p.up + "/" + p.members).join(", ");
      const button = el("button", { type: "button", "data-service": s.name }, "Map");
      button.addEventListener("click", () => showMap(s.name));
      rows.push(el("tr", { "data-service": s.name }, el("td", {}, s.name), el("td", {}, s.policy), el("td", {}, pools), el("td", {}, button)));
    }
  }
  body.replaceChildren(...rows);
  $("services-note").textContent = state.overview && state.overview.truncated
    ? "Only the first services are listed." : "";
}

async function world() {
  if (!state.world) {
    const r = await fetch("/ui/world.json", { credentials: "omit" });
    state.world = await r.json();
  }
  return state.world;
}

async function showMap(name) {
  try {
    const [map, shapes] = await Promise.all([
      api("GET", "/v1/console/map?service=" + encodeURIComponent(name)), world()]);
    const labels = [...new Set(Object.values(map.countries))].sort();
    const colour = (label) => {
      const i = labels.indexOf(label);
      return i < 0 || label === "NODATA" || label === "SERVFAIL" ? "cnone" : "c" + (i % 8);
    };
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + shapes.width + " " + shapes.height);
    svg.setAttribute("role", "img");
    for (const [code, d] of Object.entries(shapes.countries)) {
      const path = document.createElementNS(SVG_NS, "path");
      path.setAttribute("d", d);
      const label = map.countries[code];
      path.setAttribute("class", label === undefined ? "cnone" : colour(label));
      path.setAttribute("data-country", code);
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = code + ": " + (label === undefined ? "unknown" : label);
      path.append(title);
      svg.append(path);
    }
    $("map-box").replaceChildren(svg);
    $("map-title").textContent = map.name + " " + map.qtype + " (" + map.policy + "): where each country is answered now";
    $("legend").replaceChildren(...labels.map((l) => {
      const count = Object.values(map.countries).filter((v) => v === l).length;
      return el("li", {}, el("span", { class: "swatch " + colour(l) }), l + " (" + count + " countries)");
    }));
  } catch (e) {
    showError("map: " + e.message);
  }
}

// ---- explain ---------------------------------------------------------------------------

async function explain(event) {
  event.preventDefault();
  const params = new URLSearchParams();
  params.set("name", $("ex-name").value.trim());
  params.set("type", $("ex-type").value.trim() || "A");
  for (const [key, id] of [["client", "ex-client"], ["ecs", "ex-ecs"], ["down", "ex-down"]]) {
    const v = $(id).value.trim();
    if (v) params.set(key, v);
  }
  try {
    const e = await api("GET", "/v1/explain?" + params.toString());
    const rows = [["zone", e.zone], ["service", e.service], ["policy", e.policy], ["outcome", e.outcome],
      ["rcode", e.rcode], ["ECS scope", "/" + e.ecs_scope], ["answers", (e.answers || []).join("\n")]];
    $("explain-summary").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v === null || v === undefined ? "-" : v)]));
    $("explain-steps").replaceChildren(...(e.steps || []).map((s) => el("li", {}, s)));
    showError("");
  } catch (err) {
    showError("explain: " + err.message);
  }
}

// ---- actions ---------------------------------------------------------------------------

function fillNames() {
  const kind = $("ov-kind").value;
  const names = new Set();
  const o = state.overview || { datacenters: [], zones: [] };
  if (kind === "datacenter") o.datacenters.forEach((d) => names.add(d.name));
  if (kind === "target") o.datacenters.forEach((d) => d.targets.forEach((t) => names.add(t)));
  if (kind === "pool") o.zones.forEach((z) => z.services.forEach((s) => s.pools.forEach((p) => names.add(p.name))));
  $("ov-names").replaceChildren(...[...names].sort().map((n) => el("option", { value: n })));
}

async function override(stateName) {
  const name = $("ov-name").value.trim();
  if (!name) return;
  const kind = $("ov-kind").value;
  const selector = kind === "target" ? name : kind + ":" + name;
  try {
    if (stateName === "clear") {
      await api("POST", "/v1/overrides/clear", { selector });
    } else {
      const body = { selector, state: stateName, who: "console" };
      const reason = $("ov-reason").value.trim();
      if (reason) body.reason = reason;
      await api("POST", "/v1/overrides", body);
    }
    $("action-result").textContent = (stateName === "clear" ? "cleared " : stateName + ": ") + selector;
    showError("");
    pollHealth();
  } catch (e) {
    $("action-result").textContent = "";
    showError(stateName + " " + selector + ": " + e.message);
  }
}

function reportText(r) {
  const lines = [];
  lines.push("health: " + r.health + "; " + r.services_changed + " service(s) changed; " + r.elapsed_ms + " ms");
  for (const m of r.moves) {
    lines.push(m.service + " " + m.qtype + ": " + (m.percent >= 0.1 || m.percent <= 0 ? m.percent.toFixed(1) : m.percent.toPrecision(2)) + " % of " + m.basis + " (" + m.continents.join(", ") + ") move from " + m.from + " to " + m.to);
  }
  for (const name of r.unevaluated) lines.push(name + ": changed, not evaluated (no client space: no GeoIP database)");
  for (const w of r.weights) {
    lines.push(w.service + " " + w.qtype + ": " + w.datacenter + " gets " + w.after.toFixed(1) + " % of answers, was " + w.before.toFixed(1) + " %");
  }
  for (const [what, l] of [["zone", r.zones], ["service", r.services], ["target", r.targets], ["check", r.checks], ["datacenter", r.datacenters]]) {
    l.added.forEach((n) => lines.push(what + " added: " + n));
    l.removed.forEach((n) => lines.push(what + " removed: " + n));
  }
  for (const rec of r.records) lines.push("record " + rec.name + " " + rec.rtype + " " + rec.change);
  return lines.join("\n");
}

function reloadButtons(confirming) {
  $("reload-confirm").hidden = !confirming;
  $("reload-cancel").hidden = !confirming;
  $("reload-preview").hidden = confirming;
}

async function previewReload() {
  try {
    const data = await api("POST", "/v1/reload?dry_run=true");
    $("reload-report").textContent = data.changed ? reportText(data.report) : "No change: every client gets the same answers.\n" + reportText(data.report);
    reloadButtons(true);
    showError("");
  } catch (e) {
    const errors = e.data && Array.isArray(e.data.errors) ? "\n" + e.data.errors.join("\n") : "";
    $("reload-report").textContent = "The configuration does not compile: " + e.message + errors;
    reloadButtons(false);
  }
}

async function confirmReload() {
  try {
    const data = await api("POST", "/v1/reload");
    $("reload-report").textContent = "Reloaded: generation " + data.generation;
    pollOverview();
  } catch (e) {
    $("reload-report").textContent = "Reload failed: " + e.message;
  }
  reloadButtons(false);
}

// ---- start -----------------------------------------------------------------------------

function tokenState() {
  $("token-state").textContent = token() ? "token set for this tab" : "no token";
}

document.addEventListener("DOMContentLoaded", () => {
  for (const tab of document.querySelectorAll("nav .tab")) {
    tab.addEventListener("click", () => { location.hash = tab.dataset.view; });
  }
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value);
    $("token").value = "";
    tokenState();
    pollOverview();
    pollHealth();
  });
  $("forget").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); tokenState(); });
  $("explain-form").addEventListener("submit", explain);
  $("ov-kind").addEventListener("change", fillNames);
  for (const b of document.querySelectorAll("button.ov")) {
    b.addEventListener("click", () => override(b.dataset.state));
  }
  $("reload-preview").addEventListener("click", previewReload);
  $("reload-confirm").addEventListener("click", confirmReload);
  $("reload-cancel").addEventListener("click", () => { reloadButtons(false); $("reload-report").textContent = ""; });
  window.addEventListener("hashchange", () => show((location.hash || "#health").slice(1)));
  tokenState();
  show((location.hash || "#health").slice(1));
  // The overview first, so the first health view is already grouped by datacenter.
  pollOverview().finally(pollHealth);
  setInterval(pollHealth, HEALTH_EVERY_MS);
  setInterval(pollOverview, OVERVIEW_EVERY_MS);
});
