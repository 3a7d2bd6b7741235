data "giif_pagw_slots" "free" {
  state = "free"
}

output "free_public_ips" {
  value = data.giif_pagw_slots.free.slots[*].public_ip
}
