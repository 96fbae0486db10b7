-- Item ids become keys per tenant: (id, tenant_id) instead of id alone.
--
-- An export keeps its ids (event ids answer a retried turn id after an import), so a
-- caller imported into another tenant of the same database brings the ids the first
-- tenant holds. With id alone the key, the insert met the other tenant's row, which row
-- security hides from every check before it, and did nothing: the import answered
-- "imported" and stored nothing. Tenants share no keys now, as they share no rows.
-- id leads the key, so the lookups by id alone (re-embedding) still use it.
ALTER TABLE items DROP CONSTRAINT items_pkey;
ALTER TABLE items ADD PRIMARY KEY (id, tenant_id);
