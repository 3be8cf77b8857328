// The receipt checker: recomputes each entry's leaf hash from its bytes (or takes it from the
// receipt while the entry is under embargo), checks its inclusion proof against the receipt's
// checkpoint and that checkpoint's signature with the log's key, and shows each step.

import { hex, unhex, leafHash, parseVerifierKey, verifyCheckpoint, verifyInclusion } from "./verify.js";

const $ = (id) => document.getElementById(id);

function step(ok, message) {
  const li = document.createElement("li");
  li.dataset.ok = String(ok);
  li.textContent = `${ok ? "✓" : "✗"} ${message}`;
  $("steps").append(li);
  return ok;
}

function result(state, message) {
  $("receipt-status").dataset.state = state;
  $("receipt-status").textContent = message;
}

function fromFragment() {
  const f = location.hash.slice(1);
  if (!f) return null;
  const b64 = f.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

async function check(input) {
  $("steps").replaceChildren();
  result("pending", "Checking…");
  let receipt;
  try {
    const parsed = JSON.parse(input);
    receipt = parsed.receipt ?? parsed;
    if (!receipt || !Array.isArray(receipt.entries) || typeof receipt.checkpoint !== "string") throw new Error("no entries or checkpoint");
    if (receipt.entries.length === 0) throw new Error("it names no entry, so it proves nothing");
  } catch (e) {
    step(false, `The receipt is not readable: ${e.message}.`);
    return result("failed", "Not verified: the receipt is not readable.");
  }
  step(true, `Read a receipt of ${receipt.entries.length} entr${receipt.entries.length === 1 ? "y" : "ies"}.`);
  let cp;
  try {
    const verifier = await parseVerifierKey(await (await fetch("/v1/log/key", { cache: "no-store" })).text());
    cp = await verifyCheckpoint(receipt.checkpoint, verifier);
    step(true, `The checkpoint is signed by the log's key (${verifier.name}, key id ${verifier.idHex}): ${cp.size} entries, root ${hex(cp.root)}.`);
  } catch (e) {
    step(false, `The checkpoint does not verify: ${e.message}.`);
    return result("failed", "Not verified: the checkpoint's signature does not verify.");
  }
  let all = true;
  for (const item of receipt.entries) {
    const index = Number.isSafeInteger(item?.index) ? item.index : "?";
    let leaf;
    try {
      if (!item || typeof item !== "object") throw new Error("not an entry of a receipt");
      if (!Number.isSafeInteger(index) || index < 0) throw new Error("bad index");
      leaf = unhex(item.leaf_hash);
      const r = await fetch(`/v1/log/entries/${index}`, { cache: "no-store" });
      if (!r.ok) throw new Error(`the log has no entry ${index}`);
      const bytes = new Uint8Array(await r.arrayBuffer());
      const served = JSON.parse(new TextDecoder().decode(bytes));
      if (served.embargoed_until) {
        if (served.leaf_hash !== item.leaf_hash) throw new Error("the log's leaf hash differs from the receipt's");
        step(true, `Entry ${index} is under embargo until ${served.embargoed_until}: its leaf hash ${item.leaf_hash} is taken from the receipt.`);
      } else {
        const computed = hex(await leafHash(bytes));
        if (computed !== item.leaf_hash) throw new Error(`its bytes hash to ${computed}, the receipt says ${item.leaf_hash}`);
        step(true, `Entry ${index} (${served.kind}): leaf hash recomputed from its bytes, ${computed}.`);
      }
      if (!Array.isArray(item.inclusion_proof)) throw new Error("its inclusion proof is not a list of hashes");
      const proof = item.inclusion_proof.map(unhex);
      if (!(await verifyInclusion(index, cp.size, leaf, proof, cp.root))) throw new Error("its inclusion proof does not lead to the checkpoint's root");
      step(true, `Entry ${index} is in the signed tree of ${cp.size} entries (inclusion proof of ${proof.length} hashes).`);
    } catch (e) {
      all = false;
      step(false, `Entry ${index}: ${e.message}.`);
    }
  }
  if (all) result("verified", `Verified: every entry of the receipt is in the log, under a checkpoint signed by the log's key.`);
  else result("failed", "Not verified: at least one step failed (see below).");
}

$("form").addEventListener("submit", (e) => {
  e.preventDefault();
  check($("input").value).catch((err) => result("failed", `Not verified: ${err.message}.`));
});
let initial = null;
try {
  initial = fromFragment();
} catch {
  result("failed", "Not verified: the address's fragment is not the base64url of a receipt.");
}
if (initial) {
  $("input").value = initial;
  try {
    await check(initial);
  } catch (e) {
    result("failed", `Not verified: ${e.message}.`);
  }
}
