// The page's own verification: C2SP signed notes and checkpoints, RFC 9162 Merkle proofs, with
// the browser's WebCrypto (SHA-256, Ed25519) and nothing from the operator but bytes to check.
// Sources: C2SP signed-note and tlog-checkpoint; RFC 9162 §2.1.1 (hashes), §2.1.3.2
// (inclusion), §2.1.4.2 (consistency).

const utf8 = new TextEncoder();

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function unhex(s) {
  if (typeof s !== "string" || !/^([0-9a-f]{2})*$/.test(s)) throw new Error("not lowercase hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function unbase64(s) {
  const bin = atob(s);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function sha256(...parts) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
}

/** RFC 9162 §2.1.1: the hash of a leaf, SHA-256(0x00 ‖ entry bytes). */
export function leafHash(bytes) {
  return sha256(new Uint8Array([0]), bytes);
}

function nodeHash(left, right) {
  return sha256(new Uint8Array([1]), left, right);
}

/**
 * A C2SP signed-note verifier key `<name>+<hex key id>+<base64(type ‖ Ed25519 public key)>` of
 * signature type `type`, its key id checked: the first 4 bytes of SHA-256(name ‖ "\n" ‖ type ‖
 * key). The name holds no "+" and the id is hex; the base64 key may hold "+".
 */
async function parseKey(vkey, type, what) {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(vkey.trim());
  if (!m) throw new Error(`${what} is name+id+key`);
  const [, name, idHex, keyB64] = m;
  const raw = unbase64(keyB64);
  if (raw.length !== 33 || raw[0] !== type) throw new Error(`not ${what} of this type`);
  const id = (await sha256(utf8.encode(name + "\n"), raw)).slice(0, 4);
  if (hex(id) !== idHex) throw new Error("the key id does not match the key");
  const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return { name, id, idHex, key };
}

/** The log's verifier key (Ed25519, type 0x01). */
export function parseVerifierKey(vkey) {
  return parseKey(vkey, 0x01, "a verifier key");
}

/** A signed note: its signed text and its signature lines (C2SP signed-note). */
export function parseNote(text) {
  const split = text.indexOf("\n\n");
  if (split < 0 || !text.endsWith("\n")) throw new Error("not a signed note");
  const body = text.slice(0, split + 1);
  const signatures = [];
  for (const line of text.slice(split + 2).split("\n")) {
    if (line === "") continue;
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new Error("malformed signature line");
    const blob = unbase64(m[2]);
    if (blob.length < 5) throw new Error("short signature");
    signatures.push({ name: m[1], id: blob.slice(0, 4), sig: blob.slice(4), line });
  }
  return { body, signatures };
}

/**
 * Verifies a checkpoint note with the pinned verifier key: the log's signature, then the body
 * `origin\nsize\nbase64(root)\n` (C2SP tlog-checkpoint). Returns `{origin, size, root}`.
 */
export async function verifyCheckpoint(text, verifier) {
  const note = parseNote(text);
  const mine = note.signatures.filter((s) => s.name === verifier.name && equal(s.id, verifier.id));
  if (mine.length !== 1) throw new Error("no signature by the pinned key");
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, verifier.key, mine[0].sig, utf8.encode(note.body));
  if (!ok) throw new Error("the checkpoint's signature does not verify");
  const lines = note.body.split("\n");
  if (lines[0] !== verifier.name) throw new Error("the checkpoint is of another log");
  if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error("malformed tree size");
  const root = unbase64(lines[2]);
  if (root.length !== 32) throw new Error("malformed root");
  return { origin: lines[0], size: Number(lines[1]), root, note };
}

/** RFC 9162 §2.1.3.2: whether `proof` shows `leaf` at `index` in the tree of `size` with `root`. */
export async function verifyInclusion(index, size, leaf, proof, root) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn > sn) return false;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

/** RFC 9162 §2.1.4.2: whether `proof` shows the tree `(size1, root1)` a prefix of `(size2, root2)`. */
export async function verifyConsistency(size1, size2, root1, root2, proof) {
  if (size1 < 1 || size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && equal(root1, root2);
  let path = proof;
  if ((BigInt(size1) & (BigInt(size1) - 1n)) === 0n) path = [root1, ...proof];
  if (path.length === 0) return false;
  let fn = BigInt(size1) - 1n;
  let sn = BigInt(size2) - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(fr, root1) && equal(sr, root2);
}

/** A witness's verifier key (C2SP tlog-cosignature, cosignature/v1: type 0x04). */
export function parseWitnessKey(vkey) {
  return parseKey(vkey, 0x04, "a witness key");
}

/**
 * The witness's cosignature on a checkpoint note, verified: its line's blob is
 * `key id ‖ timestamp (8 bytes, big-endian) ‖ Ed25519 signature` over
 * `cosignature/v1\ntime <timestamp>\n` followed by the note body. Returns the timestamp
 * (seconds) of a valid one, or null when the witness has no valid line.
 */
export async function verifyCosignature(note, witness) {
  for (const s of note.signatures) {
    if (s.name !== witness.name || !equal(s.id, witness.id) || s.sig.length !== 72) continue;
    const time = new DataView(s.sig.buffer, s.sig.byteOffset, 8).getBigUint64(0);
    const message = utf8.encode(`cosignature/v1\ntime ${time}\n${note.body}`);
    if (time > 0n && (await crypto.subtle.verify({ name: "Ed25519" }, witness.key, s.sig.slice(8), message))) {
      return Number(time);
    }
  }
  return null;
}
