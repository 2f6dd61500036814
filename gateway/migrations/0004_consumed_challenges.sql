CREATE TABLE consumed_challenges (
    nonce TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
