-- Objects whose Proxmox VM was made before the agent marked its VMs: an
-- upgraded agent adopts such a VM once by its name, marks it and forgets
-- the row. Every VM made since carries its owner's mark from its creation.
CREATE TABLE made_before_marks (
    object_id TEXT PRIMARY KEY
);
INSERT INTO made_before_marks (object_id) SELECT id FROM vms;
INSERT INTO made_before_marks (object_id) SELECT id FROM gateways;
