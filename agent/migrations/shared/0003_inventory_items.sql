-- The site's devices as the last imported site file described them: one
-- typed document per device (credential references only, never values).
CREATE TABLE inventory_items (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
