# An assignment can be imported by its id, or by its server's inventory name.
terraform import giif_bms_assignment.node1 bms-3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b
terraform import giif_bms_assignment.node1 bms01
