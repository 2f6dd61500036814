CREATE TABLE gateway_keys (
    purpose TEXT NOT NULL,
    kid BIGINT NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (purpose, kid)
);
