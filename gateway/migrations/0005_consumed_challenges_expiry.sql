CREATE INDEX consumed_challenges_expiry ON consumed_challenges (expires_at);
