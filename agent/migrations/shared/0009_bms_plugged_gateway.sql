-- The gateway whose VM holds the server's NIC (pagw_nic). It differs from
-- the project's gateway while a move is under way: the operation unplugs
-- the server there first, so a resumed move knows where to look.
ALTER TABLE bms_assignments ADD COLUMN pagw_id TEXT;
