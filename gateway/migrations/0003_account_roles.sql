CREATE TABLE account_roles (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    role TEXT NOT NULL,
    org_key TEXT NOT NULL,
    org_name TEXT,
    PRIMARY KEY (account_id, role, org_key)
);
