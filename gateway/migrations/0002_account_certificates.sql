CREATE TABLE account_certificates (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    sha256 TEXT NOT NULL,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    not_after TEXT NOT NULL,
    first_used BIGINT NOT NULL,
    last_used BIGINT NOT NULL,
    PRIMARY KEY (account_id, sha256)
);
