//! Reproduces every value of `tests/vectors/vectors.json` (the project's conformance vectors)
//! with the crypto core alone. Nothing here is copied from the vectors into code: each expected
//! value is read from the file.

use disclosure_ledger::ledger::{
    self, checkpoint::LogVerifier, commitment, entry, hex_hash, identifier, merkle, merkle::MemoryHashes,
    parse_hex_hash, verify_chain, Entry, LogSigner,
};
use serde_json::Value;

fn vectors() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("vectors.json parses")
}

/// Where the vectors were published for every implementation (`../shared`, beside a working
/// copy), the in-repository copy must be the same bytes, so the two cannot drift. A clone on
/// its own has no such file and skips this comparison.
#[test]
fn the_vectors_in_the_repository_are_the_published_ones() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let Ok(published) = std::fs::read(root.join("../shared/conformance/vectors.json")) else {
        return;
    };
    assert!(
        published == std::fs::read(root.join("tests/vectors/vectors.json")).unwrap(),
        "tests/vectors/vectors.json differs from the published vectors"
    );
}

fn s(v: &Value) -> &str {
    v.as_str().expect("string")
}

fn h(v: &Value) -> merkle::Hash {
    parse_hex_hash(s(v)).expect("hex hash")
}

fn hashes(v: &Value) -> Vec<merkle::Hash> {
    v.as_array().expect("array").iter().map(h).collect()
}

fn bytes32(v: &Value) -> [u8; 32] {
    hex::decode(s(v)).expect("hex").try_into().expect("32 bytes")
}

#[test]
fn jcs_vectors_canonicalise_and_hash_as_published() {
    let v = vectors();
    let cases = v["jcs"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let input: Value = serde_json::from_str(s(&case["input"])).unwrap();
        let canonical = entry::canonicalize(&input).unwrap();
        assert_eq!(String::from_utf8(canonical.clone()).unwrap(), s(&case["canonical"]));
        assert_eq!(hex_hash(&entry::leaf_hash(&canonical)), s(&case["leaf_hash"]));
    }
}

#[test]
fn floats_are_refused_in_canonical_bytes() {
    let input: Value = serde_json::from_str(r#"{"a":1.5}"#).unwrap();
    assert_eq!(entry::canonicalize(&input), Err(ledger::LedgerError::FloatInEntry));
}

fn merkle_tree(v: &Value) -> MemoryHashes {
    let m = &v["merkle"];
    let mut tree = MemoryHashes::new();
    let leaves = m["leaf_data_hex"].as_array().unwrap();
    for (i, data) in leaves.iter().enumerate() {
        let leaf = entry::leaf_hash(&hex::decode(s(data)).unwrap());
        assert_eq!(leaf, h(&m["leaf_hashes"][i]), "leaf {i}");
        tree.push(leaf).unwrap();
    }
    tree
}

#[test]
fn merkle_roots_match_for_every_size() {
    let v = vectors();
    let tree = merkle_tree(&v);
    assert_eq!(merkle::root(0, &tree).unwrap(), h(&v["merkle"]["empty_root"]));
    let roots = v["merkle"]["roots"].as_object().unwrap();
    assert_eq!(roots.len() as u64, tree.size());
    for (size, root) in roots {
        let size: u64 = size.parse().unwrap();
        assert_eq!(merkle::root(size, &tree).unwrap(), h(root), "root of {size}");
    }
}

#[test]
fn inclusion_proofs_match_and_verify() {
    let v = vectors();
    let tree = merkle_tree(&v);
    for case in v["merkle"]["inclusion"].as_array().unwrap() {
        let (index, size) = (case["index"].as_u64().unwrap(), case["size"].as_u64().unwrap());
        let want = hashes(&case["proof"]);
        assert_eq!(
            merkle::inclusion_proof(index, size, &tree).unwrap(),
            want,
            "inclusion {index} in {size}"
        );
        let root = h(&v["merkle"]["roots"][size.to_string()]);
        let leaf = h(&v["merkle"]["leaf_hashes"][index as usize]);
        merkle::check_inclusion(&want, size, root, index, leaf).unwrap();
        let wrong_leaf = h(&v["merkle"]["leaf_hashes"][((index + 1) % 8) as usize]);
        assert!(merkle::check_inclusion(&want, size, root, index, wrong_leaf).is_err());
    }
}

#[test]
fn consistency_proofs_match_and_verify() {
    let v = vectors();
    let tree = merkle_tree(&v);
    for case in v["merkle"]["consistency"].as_array().unwrap() {
        let (from, to) = (case["from"].as_u64().unwrap(), case["to"].as_u64().unwrap());
        let want = hashes(&case["proof"]);
        assert_eq!(
            merkle::consistency_proof(from, to, &tree).unwrap(),
            want,
            "consistency {from}..{to}"
        );
        let from_root = h(&v["merkle"]["roots"][from.to_string()]);
        let to_root = h(&v["merkle"]["roots"][to.to_string()]);
        merkle::check_consistency(&want, from, from_root, to, to_root).unwrap();
        if from != to {
            assert!(merkle::check_consistency(&want, from, to_root, to, to_root).is_err());
        }
    }
}

#[test]
fn identifier_commitments_match() {
    let v = vectors();
    let cases = v["commitments"]["identifier"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let kind = s(&case["kind"]);
        let normalised = identifier::normalize(kind, s(&case["raw"])).unwrap();
        assert_eq!(normalised, s(&case["normalized"]));
        let c = commitment::identifier(kind, &bytes32(&case["nonce_hex"]), &normalised);
        assert_eq!(hex_hash(&c), s(&case["commitment"]));
    }
}

#[test]
fn sealed_commitment_matches() {
    let v = vectors();
    let sealed = &v["commitments"]["sealed"];
    let canonical = entry::canonicalize(&sealed["restricted"]).unwrap();
    assert_eq!(
        String::from_utf8(canonical).unwrap(),
        s(&sealed["restricted_canonical"])
    );
    let c = commitment::sealed(&bytes32(&sealed["salt_hex"]), &sealed["restricted"]).unwrap();
    assert_eq!(hex_hash(&c), s(&sealed["commitment"]));
}

#[test]
fn order_signature_verifies_over_the_published_message() {
    use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
    let v = vectors();
    let o = &v["order_signature"];
    let document = hex::decode(s(&o["document_hex"])).unwrap();
    let digest = commitment_sha256(&document);
    assert_eq!(digest, s(&o["document_sha256"]));
    let message = format!("disclosure-ledger:order:v1\n{digest}");
    assert_eq!(message, s(&o["message"]));
    let key = SigningKey::from_bytes(&bytes32(&o["authority_seed_hex"]));
    assert_eq!(
        hex::encode(key.verifying_key().as_bytes()),
        s(&o["authority_public_key_hex"])
    );
    let sig = key.sign(message.as_bytes());
    assert_eq!(hex::encode(sig.to_bytes()), s(&o["signature_hex"]));
    let public = VerifyingKey::from_bytes(&bytes32(&o["authority_public_key_hex"])).unwrap();
    let published = Signature::from_slice(&hex::decode(s(&o["signature_hex"])).unwrap()).unwrap();
    public.verify(message.as_bytes(), &published).unwrap();
}

fn commitment_sha256(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

fn chain_entries(v: &Value) -> Vec<Entry> {
    serde_json::from_value(v.clone()).expect("entries parse")
}

#[test]
fn chain_entries_have_the_published_bytes_hashes_root_and_proofs() {
    let v = vectors();
    let c = &v["chain"];
    let entries = chain_entries(&c["entries"]);
    let leaves = verify_chain(&entries).unwrap();
    let mut tree = MemoryHashes::new();
    for (i, e) in entries.iter().enumerate() {
        let bytes = e.canonical_bytes().unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            s(&c["canonical"][i]),
            "canonical {i}"
        );
        assert_eq!(Entry::from_canonical(&bytes).unwrap(), *e);
        assert_eq!(leaves[i], h(&c["leaf_hashes"][i]), "leaf {i}");
        tree.push(leaves[i]).unwrap();
    }
    assert_eq!(tree.size(), c["size"].as_u64().unwrap());
    assert_eq!(tree.root().unwrap(), h(&c["root"]));
    assert_eq!(
        merkle::inclusion_proof(2, tree.size(), &tree).unwrap(),
        hashes(&c["inclusion_proof_index_2"])
    );
    assert_eq!(
        merkle::consistency_proof(3, tree.size(), &tree).unwrap(),
        hashes(&c["consistency_proof_3_6"])
    );
}

#[test]
fn non_canonical_spelling_of_an_entry_is_refused() {
    let v = vectors();
    let canonical = s(&v["chain"]["canonical"][0]);
    let spaced = canonical.replacen(',', ", ", 1);
    assert_eq!(
        Entry::from_canonical(spaced.as_bytes()),
        Err(ledger::LedgerError::NotCanonical)
    );
}

#[test]
fn checkpoint_is_signed_and_verifies_as_published() {
    let v = vectors();
    let cp = &v["checkpoint"];
    assert_eq!(s(&cp["origin"]), s(&cp["key_name"]));
    let key = ed25519_dalek::SigningKey::from_bytes(&bytes32(&cp["log_seed_hex"]));
    assert_eq!(
        hex::encode(key.verifying_key().as_bytes()),
        s(&cp["log_public_key_hex"])
    );
    let signer = LogSigner::new(s(&cp["origin"]), key).unwrap();
    assert_eq!(signer.verifier_key(), s(&cp["verifier_key"]));
    assert!(signer.verifier_key().contains(&format!("+{}+", s(&cp["key_id_hex"]))));
    let size = v["chain"]["size"].as_u64().unwrap();
    let signed = signer.sign(size, h(&v["chain"]["root"])).unwrap();
    assert!(signed.note.starts_with(s(&cp["body"])));
    assert_eq!(signed.note, s(&cp["signed_note"]));

    let verifier = LogVerifier::new(s(&cp["verifier_key"])).unwrap();
    let checked = verifier.verify(s(&cp["signed_note"])).unwrap();
    assert_eq!((checked.size, checked.root), (size, h(&v["chain"]["root"])));
    let forged = s(&cp["signed_note"]).replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1);
    assert!(verifier.verify(&forged).is_err());
}

#[test]
fn every_tamper_case_is_caught_at_its_first_bad_index() {
    let v = vectors();
    let cases = v["tamper"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let entries = chain_entries(&case["entries"]);
        let brk = verify_chain(&entries).expect_err(s(&case["description"]));
        assert_eq!(
            brk.position,
            case["first_bad_index"].as_u64().unwrap(),
            "{}",
            s(&case["description"])
        );
    }
}

#[test]
fn the_single_pass_canonical_check_agrees_with_the_jcs_vectors() {
    use disclosure_ledger::ledger::canonical_check::is_canonical;
    let v = vectors();
    for case in v["jcs"].as_array().unwrap() {
        assert!(
            is_canonical(s(&case["canonical"]).as_bytes()),
            "{}",
            s(&case["canonical"])
        );
        if case["input"] != case["canonical"] {
            assert!(!is_canonical(s(&case["input"]).as_bytes()), "{}", s(&case["input"]));
        }
    }
}

/// Differential test: on every chain entry and thousands of one-byte mutations of it, the
/// single-pass check accepts exactly what parse-and-re-serialise accepts, and reads the same
/// index and prev.
#[test]
fn the_single_pass_entry_check_agrees_with_parse_and_reserialise_on_mutations() {
    use disclosure_ledger::ledger::canonical_check::check_entry;
    let v = vectors();
    let mut cases = 0;
    for canonical in v["chain"]["canonical"].as_array().unwrap() {
        let bytes = s(canonical).as_bytes();
        let mut variants: Vec<Vec<u8>> = vec![bytes.to_vec()];
        for i in 0..=bytes.len() {
            for insert in [b' ', b'\\', b'0', b'"', b','] {
                let mut m = bytes.to_vec();
                m.insert(i, insert);
                variants.push(m);
            }
            if i + 1 < bytes.len() {
                let mut m = bytes.to_vec();
                m.swap(i, i + 1);
                variants.push(m);
                let mut m = bytes.to_vec();
                m.remove(i);
                variants.push(m);
            }
        }
        for m in variants {
            cases += 1;
            let reference = Entry::from_canonical(&m);
            let fast = check_entry(&m);
            assert_eq!(
                fast.is_ok(),
                reference.is_ok(),
                "disagree on {:?}: {:?} vs {:?}",
                String::from_utf8_lossy(&m),
                fast,
                reference
            );
            if let (Ok(f), Ok(r)) = (fast, reference) {
                assert_eq!((f.index, f.prev), (r.index, r.prev.as_str()));
            }
        }
    }
    assert!(cases > 5000, "{cases}");
}

/// The order statement v2 (`tests/vectors/order_statement.json`, made independently with
/// Python): the same bytes from the same request, and the published signature verifies.
#[test]
fn the_order_statement_is_the_published_bytes_and_its_signature_verifies() {
    use ed25519_dalek::{Signature, SigningKey, Verifier};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/order_statement.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut request = v["request"].clone();
    request["order"]["signature"] = v["signature_hex"].clone();
    let request: disclosure_ledger::requests::SubmitRequest = serde_json::from_value(request).unwrap();
    use disclosure_ledger::requests::order_statement;
    assert_eq!(order_statement::scope_sha256(&request), s(&v["scope_sha256"]));
    let statement = order_statement::statement(s(&v["origin"]), &request).unwrap();
    assert_eq!(statement, s(&v["statement"]));
    let key = SigningKey::from_bytes(&bytes32(&v["authority_seed_hex"]));
    let signature = Signature::from_slice(&hex::decode(s(&v["signature_hex"])).unwrap()).unwrap();
    key.verifying_key().verify(statement.as_bytes(), &signature).unwrap();
    // The CLI's signer produces the same signature (Ed25519 is deterministic).
    let signed = disclosure_ledger::authorities::tools::sign_order(
        &key,
        s(&v["request"]["order"]["kid"]),
        s(&v["origin"]),
        v["request"].clone(),
        None,
    )
    .unwrap();
    assert_eq!(signed["order"]["signature"], v["signature_hex"]);
}
