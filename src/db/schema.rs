//! The database schema in the SQL types SQLite and PostgreSQL share
//! (integers, text): written by hand, because `print-schema` on PostgreSQL
//! emits types the multi-backend connection cannot use.

diesel::table! {
    registered_models (id) {
        id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        creation_timestamp -> BigInt,
        last_updated_timestamp -> BigInt,
        next_version -> BigInt,
    }
}

diesel::table! {
    registered_model_tags (model_id, key) {
        model_id -> BigInt,
        key -> Text,
        value -> Text,
        position -> BigInt,
    }
}

diesel::table! {
    model_versions (id) {
        id -> BigInt,
        model_id -> BigInt,
        version -> BigInt,
        source -> Text,
        run_id -> Nullable<Text>,
        run_link -> Nullable<Text>,
        description -> Nullable<Text>,
        current_stage -> Text,
        status -> Text,
        created_by -> Text,
        creation_timestamp -> BigInt,
        last_updated_timestamp -> BigInt,
        storage_location -> Nullable<Text>,
        logged_model_id -> Nullable<Text>,
    }
}

diesel::table! {
    model_version_tags (version_id, key) {
        version_id -> BigInt,
        key -> Text,
        value -> Text,
        position -> BigInt,
    }
}

diesel::table! {
    registered_model_aliases (model_id, alias) {
        model_id -> BigInt,
        alias -> Text,
        version -> BigInt,
    }
}

diesel::table! {
    activities (id) {
        id -> BigInt,
        model_id -> BigInt,
        version -> BigInt,
        activity_type -> Text,
        from_stage -> Nullable<Text>,
        to_stage -> Nullable<Text>,
        user_name -> Text,
        timestamp -> BigInt,
        comment -> Nullable<Text>,
        request_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        event_type -> Text,
        model_name -> Nullable<Text>,
        version -> Nullable<BigInt>,
        actor -> Text,
        timestamp -> BigInt,
        payload -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    event_chain_head (id) {
        id -> Integer,
        last_id -> BigInt,
        last_hash -> Text,
        last_timestamp -> BigInt,
    }
}

diesel::joinable!(registered_model_tags -> registered_models (model_id));
diesel::joinable!(model_versions -> registered_models (model_id));
diesel::joinable!(model_version_tags -> model_versions (version_id));
diesel::joinable!(registered_model_aliases -> registered_models (model_id));

diesel::allow_tables_to_appear_in_same_query!(
    registered_models,
    registered_model_tags,
    model_versions,
    model_version_tags,
    registered_model_aliases,
    activities,
    events,
    event_chain_head,
);

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        creation_timestamp -> BigInt,
        last_updated_timestamp -> BigInt,
        session_generation -> BigInt,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        jti -> Text,
        name -> Text,
        user_id -> BigInt,
        created_by -> Text,
        creation_timestamp -> BigInt,
        expires_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, api_tokens);
// the caller check reads the event head beside the user
diesel::allow_tables_to_appear_in_same_query!(users, event_chain_head);

diesel::table! {
    ui_sessions (id) {
        id -> BigInt,
        secret_hash -> Text,
        user_id -> BigInt,
        generation -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(ui_sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(ui_sessions, users);
diesel::allow_tables_to_appear_in_same_query!(ui_sessions, event_chain_head);

diesel::table! {
    transition_requests (id) {
        id -> BigInt,
        model_id -> BigInt,
        version -> BigInt,
        from_stage -> Text,
        to_stage -> Text,
        archive_existing_versions -> Bool,
        status -> Text,
        requested_by -> Text,
        required_approvals -> BigInt,
        comment -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decision_comment -> Nullable<Text>,
        creation_timestamp -> BigInt,
        last_updated_timestamp -> BigInt,
        alias -> Nullable<Text>,
    }
}

diesel::table! {
    request_approvals (request_id, user_name) {
        request_id -> BigInt,
        user_name -> Text,
        timestamp -> BigInt,
        comment -> Nullable<Text>,
    }
}

diesel::joinable!(transition_requests -> registered_models (model_id));
diesel::joinable!(request_approvals -> transition_requests (request_id));
diesel::allow_tables_to_appear_in_same_query!(
    transition_requests,
    request_approvals,
    registered_models,
);

diesel::table! {
    stage_clearances (model_id, version, stage) {
        model_id -> BigInt,
        version -> BigInt,
        stage -> Text,
    }
}

diesel::joinable!(stage_clearances -> registered_models (model_id));
diesel::allow_tables_to_appear_in_same_query!(stage_clearances, registered_models);

diesel::table! {
    audit_checkpoints (id) {
        id -> BigInt,
        event_id -> BigInt,
        event_hash -> Text,
        created_at -> BigInt,
        public_key -> Text,
        signature -> Text,
    }
}

diesel::table! {
    deployment_keys (name) {
        name -> Text,
        fingerprint -> Text,
        recorded_at -> BigInt,
    }
}

diesel::table! {
    model_names (id) {
        id -> BigInt,
        name -> Text,
        model_key -> BigInt,
        from_ts -> BigInt,
        to_ts -> Nullable<BigInt>,
        event_id -> BigInt,
        model_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    resolution_history (model_key, kind, label, ts) {
        model_key -> BigInt,
        kind -> Text,
        label -> Text,
        ts -> BigInt,
        version -> Nullable<BigInt>,
        event_id -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(model_names, resolution_history, events);

diesel::table! {
    webhooks (id) {
        id -> BigInt,
        url -> Text,
        events -> Text,
        model_name -> Nullable<Text>,
        description -> Nullable<Text>,
        enabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<BigInt>,
        disabled_reason -> Nullable<Text>,
        from_event_id -> BigInt,
        created_by -> Text,
        creation_timestamp -> BigInt,
        last_updated_timestamp -> BigInt,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        mlflow_id -> Nullable<Text>,
        name -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        webhook_id -> BigInt,
        event_id -> BigInt,
        message_id -> Text,
        state -> Text,
        attempts -> BigInt,
        next_attempt_at -> BigInt,
        last_status -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        last_latency_ms -> Nullable<BigInt>,
        last_attempt_at -> Nullable<BigInt>,
        creation_timestamp -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    webhook_cursor (id) {
        id -> Integer,
        last_event_id -> BigInt,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::allow_tables_to_appear_in_same_query!(webhooks, webhook_deliveries, events);
