# A gateway can be imported by its id, or by its project's id or name.
terraform import giif_pagw.lab gw-3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b
terraform import giif_pagw.lab physics-lab
