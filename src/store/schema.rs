//! Diesel table definitions, identical for both backends (see `migrations/`).

diesel::table! {
    log_head (id) {
        id -> Integer,
        size -> BigInt,
    }
}

diesel::table! {
    entries (idx) {
        idx -> BigInt,
        kind -> Text,
        subject -> Nullable<Text>,
        time -> Text,
        canonical -> Text,
    }
}

diesel::table! {
    tree_hash_pages (page) {
        page -> BigInt,
        hashes -> Binary,
    }
}

diesel::table! {
    checkpoints (size) {
        size -> BigInt,
        root -> Binary,
        note -> Text,
    }
}

diesel::table! {
    sealed_details (entry_idx) {
        entry_idx -> BigInt,
        salt -> Nullable<Binary>,
        restricted -> Text,
    }
}

diesel::table! {
    vault (id) {
        id -> Text,
        request_id -> Text,
        kind -> Text,
        value -> Nullable<Text>,
        nonce -> Nullable<Binary>,
        commitment -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    policies (adopted_entry) {
        adopted_entry -> BigInt,
        name -> Text,
        sha256 -> Text,
        document -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(entries, sealed_details, policies);

diesel::table! {
    authorities (id) {
        id -> Text,
        country -> Text,
        kind -> Text,
        judicial -> Bool,
        name -> Text,
        domains -> Text,
        status -> Text,
        created_at -> Text,
    }
}

diesel::table! {
    authority_keys (kid) {
        kid -> Text,
        authority_id -> Text,
        alg -> Text,
        jwk -> Text,
        not_before -> Text,
        not_after -> Nullable<Text>,
        revoked_at -> Nullable<Text>,
    }
}

diesel::joinable!(authority_keys -> authorities (authority_id));
diesel::allow_tables_to_appear_in_same_query!(authorities, authority_keys);

diesel::table! {
    requests (id) {
        id -> Text,
        authority_id -> Text,
        issuing_authority_id -> Nullable<Text>,
        officer -> Text,
        instrument -> Text,
        country -> Text,
        emergency -> Bool,
        status -> Text,
        order_sha256 -> Nullable<Text>,
        policy_sha256 -> Text,
        received_at -> Text,
        due_at -> Text,
        data_categories -> Text,
        identifiers -> Integer,
        failed_rules -> Text,
        idempotency_key -> Nullable<Text>,
        request_sha256 -> Text,
        approved_categories -> Nullable<Text>,
        notification -> Text,
        first_approver -> Nullable<Text>,
        expires_at -> Nullable<Text>,
        legal_hold -> Bool,
        shredded_entry -> Nullable<BigInt>,
    }
}

diesel::table! {
    imports (external_id) {
        external_id -> Text,
        record_sha256 -> Text,
        entry_index -> BigInt,
        imported_at -> Text,
    }
}

diesel::table! {
    idempotency_keys (subject, idem_key) {
        subject -> Text,
        idem_key -> Text,
        action -> Text,
        request_id -> Text,
        body_sha256 -> Text,
        entry_index -> BigInt,
    }
}

// A transition reads its request and the stored claim of its `Idempotency-Key` in one statement.
diesel::allow_tables_to_appear_in_same_query!(requests, idempotency_keys);

diesel::table! {
    cosignatures (size, witness) {
        size -> BigInt,
        witness -> Text,
        line -> Text,
        cosigned_at -> BigInt,
    }
}

diesel::table! {
    idempotent_answers (subject, idem_key) {
        subject -> Text,
        idem_key -> Text,
        fingerprint -> Text,
        entry_index -> BigInt,
        entries -> Integer,
        status -> Nullable<Integer>,
        answer -> Nullable<Text>,
        created_at -> Text,
    }
}
