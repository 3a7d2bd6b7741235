-- The revision of the imported inventory, written with each import, so the
-- running agent learns of a new import with one small read per call
-- instead of hashing every device.
CREATE TABLE inventory_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision TEXT NOT NULL
);
