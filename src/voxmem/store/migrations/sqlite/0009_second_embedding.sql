-- A second vector per caller memory: the full model's (embedder "static+onnx"), kept
-- beside the static table's vector in ``embedding``. Written after the row itself, off
-- the hot path, by the engine's second-vector writer; a row without one (new, or from
-- another model) is found by ``second_embedding_model`` and embedded in the background.
-- Nullable and without an index, so a store that never uses the option pays nothing
-- per write (the sweep that reads the column runs only with the option on).
ALTER TABLE items ADD COLUMN second_embedding BLOB;
ALTER TABLE items ADD COLUMN second_embedding_model TEXT;
