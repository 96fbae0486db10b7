-- API keys bound to one tenant (`voxmem keys create --tenant T`). Only a keyed hash of
-- the key's secret is kept (BLAKE2b keyed with store_identity's id), never the key: a
-- reader of this table cannot sign in with what it holds. Operator data, read without a
-- tenant (the runtime reads it before it knows which tenant a request is for), like
-- journal_quarantine. A revoked key keeps its row, so `voxmem keys list` shows when.
CREATE TABLE api_keys (
    key_id          TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    key_hash        TEXT NOT NULL,
    created_at      DOUBLE PRECISION NOT NULL,
    last_used_at    DOUBLE PRECISION,
    revoked_at      DOUBLE PRECISION
);
