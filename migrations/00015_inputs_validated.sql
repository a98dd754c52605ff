-- Whether a job's inputs were checked against its model's input schema when it was submitted:
--   true   checked (a Replicate version's schema, a fal endpoint's OpenAPI document, a local model)
--   false  passed on unchecked: a route alias (its targets take differently named inputs), a
--          model whose provider publishes no schema, or a schema that could not be had then
--   null   rows older than this migration
ALTER TABLE jobs ADD COLUMN inputs_validated boolean;
