CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    key_kind TEXT NOT NULL,
    key_country TEXT NOT NULL,
    key_value TEXT NOT NULL,
    surname TEXT,
    given_name TEXT,
    patronymic TEXT,
    full_name TEXT,
    blocked_reason TEXT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (key_kind, key_country, key_value)
);
