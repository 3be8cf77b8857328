// The public page: the newest checkpoint verified against the log's key, compared with the
// last one this browser verified (a consistency proof, or a fork or rollback said plainly), and
// the transparency report's figures, shown with the checkpoint they were computed at.

import { hex, unhex, parseVerifierKey, parseWitnessKey, verifyCheckpoint, verifyConsistency, verifyCosignature } from "./verify.js";

const numbers = new Intl.NumberFormat(undefined);
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
/** An ISO instant as shown: "2026-11-30 06:10:46 UTC". */
const utc = (iso) => `${String(iso).replace("T", " ").replace(/(\.\d+)?Z$/, "")} UTC`;
const $ = (id) => document.getElementById(id);

async function text(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.text();
}

async function json(path) {
  return JSON.parse(await text(path));
}

function status(state, message) {
  const el = $("checkpoint-status");
  el.dataset.state = state;
  el.textContent = message;
}

// Kept per address of this page, with the key: a log that answers here under another key or
// name is another log, however it calls itself.
const storageKey = () => `disclosure-ledger:checkpoint:${location.host}`;

/** What this browser verified last at this address, or null. */
function remembered() {
  try {
    const v = JSON.parse(localStorage.getItem(storageKey()) ?? "null");
    return v && Number.isSafeInteger(v.size) && typeof v.root === "string" && typeof v.key === "string" ? v : null;
  } catch {
    return null;
  }
}

/**
 * Verifies the newest checkpoint and its consistency with the one remembered. Returns the
 * verified checkpoint and the verifier, or null after saying why not.
 */
async function checkLog() {
  let verifier, cp, vkey;
  try {
    vkey = (await text("/v1/log/key")).trim();
    verifier = await parseVerifierKey(vkey);
    $("verifier-key").textContent = `${vkey} (key id ${verifier.idHex})`;
    cp = await verifyCheckpoint(await text("/checkpoint"), verifier);
  } catch (e) {
    status("failed", `The checkpoint could not be verified: ${e.message}.`);
    return null;
  }
  $("origin").textContent = cp.origin;
  $("tree-size").textContent = numbers.format(cp.size);
  $("tree-root").textContent = hex(cp.root);
  const before = remembered();
  if (before && before.key !== vkey) {
    $("last-seen").textContent = `a log with the key ${before.key}, ${numbers.format(before.size)} entries, at ${before.at}`;
    status("fork", `Another log answers at this address: its key or name differs from the one this browser verified before (${before.key}). Unless the operator announced a new key, this is not the log you checked.`);
    return null;
  }
  if (before) {
    $("last-seen").textContent = `${numbers.format(before.size)} entries, root ${before.root}, at ${before.at}`;
    if (cp.size < before.size) {
      status("rollback", `Rolled back: this browser verified ${numbers.format(before.size)} entries before, the log now shows ${numbers.format(cp.size)}. A log never shrinks.`);
      return null;
    }
    let consistent;
    try {
      if (cp.size === before.size) {
        consistent = hex(cp.root) === before.root;
      } else {
        const p = await json(`/v1/log/proof/consistency?from=${before.size}&to=${cp.size}`);
        consistent = await verifyConsistency(before.size, cp.size, unhex(before.root), cp.root, p.proof.map(unhex));
      }
    } catch {
      consistent = false;
    }
    if (!consistent) {
      status("fork", `Fork: the log's history differs from the one this browser verified at ${numbers.format(before.size)} entries. Someone rewrote it or is showing different histories to different readers.`);
      return null;
    }
  }
  const at = utc(new Date().toISOString());
  localStorage.setItem(storageKey(), JSON.stringify({ key: vkey, size: cp.size, root: hex(cp.root), at }));
  status(
    "verified",
    before
      ? `Verified: signed by the log's key, and consistent with the ${numbers.format(before.size)} entries this browser verified before.`
      : "Verified: signed by the log's key. This is the first checkpoint this browser has seen of this log; later visits check that the log only grew.",
  );
  return { cp, verifier };
}

/**
 * The witnesses the operator configured, each with its cosignature on the verified checkpoint
 * verified here, and whether the quorum is met. Witnesses vouch that they saw no other history
 * of this log; their keys are best pinned out of band too.
 */
async function showWitnesses(cp) {
  let config;
  try {
    config = await json("/v1/log/witnesses");
  } catch {
    return;
  }
  if (!Array.isArray(config.witnesses) || config.witnesses.length === 0) return;
  $("witnessing").hidden = false;
  const list = $("witnesses");
  list.replaceChildren();
  let valid = 0;
  for (const vkey of config.witnesses) {
    const li = document.createElement("li");
    li.dataset.testid = "witness";
    let line;
    try {
      const w = await parseWitnessKey(vkey);
      const time = await verifyCosignature(cp.note, w);
      if (time === null) {
        li.dataset.state = "missing";
        line = `${w.name} (key id ${w.idHex}): no valid cosignature on this checkpoint`;
      } else {
        valid += 1;
        li.dataset.state = "verified";
        line = `${w.name} (key id ${w.idHex}): cosigned at ${utc(new Date(time * 1000).toISOString())}, verified`;
      }
    } catch (e) {
      li.dataset.state = "failed";
      line = `a witness key that cannot be read: ${e.message}`;
    }
    li.textContent = line;
    list.append(li);
  }
  const quorum = Number(config.quorum) || 0;
  const met = valid >= quorum && quorum > 0;
  $("witness-quorum").dataset.state = quorum === 0 ? "none" : met ? "met" : "not-met";
  $("witness-quorum").textContent =
    quorum === 0
      ? `${valid} of ${config.witnesses.length} witnesses cosigned this checkpoint; the log requires none.`
      : `${valid} of ${config.witnesses.length} witnesses cosigned this checkpoint; the log requires ${quorum}: ${met ? "quorum met" : "quorum NOT met"}.`;
}

// ---- Figures ----------------------------------------------------------------------------

function quarterIndex(q) {
  const m = /^(\d{4})-Q([1-4])$/.exec(q);
  return m ? Number(m[1]) * 4 + Number(m[2]) - 1 : null;
}

function quarterName(i) {
  return `${Math.floor(i / 4)}-Q${(i % 4) + 1}`;
}

/** Live rows summed per country and quarter (the report splits them by instrument and emergency). */
function liveRows(report) {
  const cells = new Map();
  for (const r of report.live ?? []) {
    const key = `${r.country}|${r.quarter}`;
    const c = cells.get(key) ?? { country: r.country, quarter: r.quarter, received: 0, fulfilled: 0, rejected: 0, affected: 0 };
    c.received += r.received ?? 0;
    c.fulfilled += r.fulfilled ?? 0;
    c.rejected += r.rejected ?? 0;
    c.affected += r.accounts_affected ?? 0;
    cells.set(key, c);
  }
  return [...cells.values()].sort((a, b) => a.quarter.localeCompare(b.quarter) || a.country.localeCompare(b.country));
}

function importedRows(report) {
  return (report.imported?.aggregates ?? [])
    .map((a) => ({
      country: a.country,
      quarter: a.quarter ?? `${a.from}/${a.to}`,
      span: !a.quarter,
      fulfilled: a.fulfilled_requests ?? 0,
      affected: a.affected_users ?? 0,
      source: a.source,
    }))
    .sort((a, b) => a.quarter.localeCompare(b.quarter) || a.country.localeCompare(b.country));
}

function cell(tr, value, numeric) {
  const td = document.createElement("td");
  td.textContent = numeric ? numbers.format(value) : value;
  if (numeric) td.className = "num";
  tr.append(td);
}

function fillTable(id, rows, columns, source) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.testid = "country-row";
    tr.dataset.source = source;
    tr.dataset.country = r.country;
    tr.dataset.quarter = r.quarter;
    tr.dataset.fulfilled = String(r.fulfilled);
    tr.dataset.affected = String(r.affected);
    cell(tr, r.country, false);
    cell(tr, r.span ? `${r.quarter.replace("/", " to ")} (several quarters)` : r.quarter, false);
    for (const c of columns) cell(tr, r[c], true);
    body.append(tr);
  }
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 2 + columns.length;
    td.textContent = "No figures for this selection.";
    tr.append(td);
    body.append(tr);
  }
}

const SVG = "http://www.w3.org/2000/svg";
function svg(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Bars per quarter, fulfilled requests (solid) beside affected accounts (hatched), labelled. */
function drawChart(rows, boxId) {
  const perQuarter = new Map();
  for (const r of rows) {
    if (r.span) continue;
    const q = perQuarter.get(r.quarter) ?? { fulfilled: 0, affected: 0 };
    q.fulfilled += r.fulfilled;
    q.affected += r.affected;
    perQuarter.set(r.quarter, q);
  }
  const quarters = [...perQuarter.keys()].sort();
  const box = $(boxId);
  box.replaceChildren();
  if (quarters.length === 0) {
    box.textContent = "No quarterly figures for this selection.";
    return;
  }
  const max = Math.max(1, ...quarters.flatMap((q) => [perQuarter.get(q).fulfilled, perQuarter.get(q).affected]));
  const [w, h, left, bottom, top] = [Math.max(320, quarters.length * 56 + 70), 260, 60, 40, 16];
  const plot = h - bottom - top;
  const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-labelledby": `${boxId}-title ${boxId}-desc`, class: "chart" });
  root.append(svg("title", { id: `${boxId}-title` }, "Fulfilled requests and affected accounts per quarter"));
  root.append(svg("desc", { id: `${boxId}-desc` }, quarters.map((q) => `${q}: ${perQuarter.get(q).fulfilled} fulfilled, ${perQuarter.get(q).affected} accounts`).join("; ")));
  const defs = svg("defs", {});
  const pattern = svg("pattern", { id: `${boxId}-hatch`, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  pattern.append(svg("rect", { width: 6, height: 6, class: "hatch-bg" }));
  pattern.append(svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "hatch-line" }));
  defs.append(pattern);
  root.append(defs);
  for (let t = 0; t <= 4; t++) {
    const v = (max * t) / 4;
    const y = top + plot - (plot * t) / 4;
    root.append(svg("line", { x1: left, x2: w - 8, y1: y, y2: y, class: "grid" }));
    // Compact labels ("1.2M"): the exact figures are in the tables and each bar's title.
    root.append(svg("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, compact.format(Math.round(v))));
  }
  root.append(svg("text", { x: 12, y: top + plot / 2, class: "axis", transform: `rotate(-90 12 ${top + plot / 2})`, "text-anchor": "middle" }, "count"));
  quarters.forEach((q, i) => {
    const x = left + 10 + i * 56;
    const { fulfilled, affected } = perQuarter.get(q);
    const hf = (plot * fulfilled) / max;
    const ha = (plot * affected) / max;
    const bf = svg("rect", { x, y: top + plot - hf, width: 20, height: hf, class: "bar-fulfilled" });
    bf.append(svg("title", {}, `${q}: ${numbers.format(fulfilled)} fulfilled requests`));
    const ba = svg("rect", { x: x + 22, y: top + plot - ha, width: 20, height: ha, class: "bar-affected", fill: `url(#${boxId}-hatch)` });
    ba.append(svg("title", {}, `${q}: ${numbers.format(affected)} affected accounts`));
    root.append(bf, ba);
    root.append(svg("text", { x: x + 21, y: h - bottom + 16, class: "axis", "text-anchor": "middle" }, q));
  });
  root.append(svg("text", { x: left + (w - left) / 2, y: h - 6, class: "axis", "text-anchor": "middle" }, "quarter (UTC)"));
  const legend = document.createElement("p");
  legend.className = "legend";
  const solid = document.createElement("span");
  solid.className = "key key-fulfilled";
  solid.textContent = "solid: fulfilled requests";
  const hatched = document.createElement("span");
  hatched.className = "key key-affected";
  hatched.textContent = "hatched: affected accounts";
  legend.append(solid, " ", hatched);
  box.append(root, legend);
}

function fillSelect(id, values, keep) {
  const el = $(id);
  const current = el.value;
  for (const v of values) {
    if ([...el.options].some((o) => o.value === v)) continue;
    const o = document.createElement("option");
    o.value = v;
    o.textContent = v;
    el.append(o);
  }
  if (keep) el.value = current;
}

function query() {
  const p = new URLSearchParams();
  for (const id of ["from", "to", "country"]) if ($(id).value) p.set(id, $(id).value);
  return p;
}

let shown = 0;

async function showReport(log) {
  const params = query();
  const mine = ++shown;
  const csv = new URLSearchParams(params);
  csv.set("format", "csv");
  $("csv").href = `/v1/reports/transparency?${csv}`;
  let report;
  try {
    report = await json(`/v1/reports/transparency?${params}`);
  } catch (e) {
    if (mine !== shown) return;
    $("report-at").textContent = `The report could not be loaded for this selection (${e.message}); is "to" before "from"?`;
    fillTable("live", [], ["received", "fulfilled", "rejected", "affected"], "live");
    fillTable("imported", [], ["fulfilled", "affected"], "imported");
    drawChart([], "chart-live");
    drawChart([], "chart-imported");
    return;
  }
  // A later selection was made while this one loaded: its answer wins.
  if (mine !== shown) return;
  const at = report.checkpoint;
  let tie = "";
  if (log) {
    const { cp } = log;
    if (at.size === cp.size) {
      tie = at.root === hex(cp.root) ? "the checkpoint verified above" : "a root that does NOT match the checkpoint verified above";
    } else if (at.size < cp.size && at.size > 0) {
      tie = "a checkpoint that is a prefix of the one verified above (consistency proof not checked here)";
      try {
        const p = await json(`/v1/log/proof/consistency?from=${at.size}&to=${cp.size}`);
        tie = (await verifyConsistency(at.size, cp.size, unhex(at.root), cp.root, p.proof.map(unhex)))
          ? "a checkpoint proven consistent with the one verified above"
          : "a checkpoint NOT consistent with the one verified above";
      } catch {
        // keep the weaker statement
      }
    }
  }
  $("report-at").textContent = `Computed from the log's first ${numbers.format(at.size)} entries (root ${at.root})${tie ? `, ${tie}` : ""}; as of ${utc(report.as_of)}.`;
  const live = liveRows(report);
  const imported = importedRows(report);
  const quarters = new Set([...live, ...imported].filter((r) => !r.span).map((r) => r.quarter));
  const indexes = [...quarters].map(quarterIndex).filter((i) => i !== null);
  if (indexes.length) {
    const all = [];
    for (let i = Math.min(...indexes); i <= Math.max(...indexes); i++) all.push(quarterName(i));
    fillSelect("from", ["", ...all], true);
    fillSelect("to", ["", ...all], true);
  }
  fillSelect("country", [...new Set([...live, ...imported].map((r) => r.country))].sort(), true);
  fillTable("live", live, ["received", "fulfilled", "rejected", "affected"], "live");
  fillTable("imported", imported, ["fulfilled", "affected"], "imported");
  const sources = [...new Set(imported.map((r) => r.source).filter(Boolean))];
  if (sources.length) $("imported-source").textContent = `Figures published by the platform before the ledger existed (source: ${sources.join("; ")}), recorded as imported: the ledger attests when it recorded them, not that they are true.`;
  drawChart(live, "chart-live");
  drawChart(imported, "chart-imported");
}

for (const id of ["from", "to"]) {
  const empty = document.createElement("option");
  empty.value = "";
  empty.textContent = "any";
  $(id).append(empty);
}
const log = await checkLog();
if (log) await showWitnesses(log.cp);
await showReport(log);
$("filters").addEventListener("change", () => showReport(log));
$("filters").addEventListener("submit", (e) => e.preventDefault());
