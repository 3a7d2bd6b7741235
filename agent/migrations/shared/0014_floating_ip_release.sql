-- A floating IP being given back: its row (and so its address) stays held
-- until the project's gateway confirmed its NAT rules are gone.
ALTER TABLE floating_ips ADD COLUMN releasing_since TEXT;
