CREATE TABLE audit (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    indication TEXT NOT NULL,
    sub_indication TEXT NOT NULL,
    account_id TEXT,
    issuer TEXT,
    serial TEXT,
    detail TEXT
);
