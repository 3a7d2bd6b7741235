output "project_id" {
  description = "The rental's project id."
  value       = giif_project.rental.id
}

output "gateway_public_ip" {
  description = "The rental gateway's public address."
  value       = giif_pagw.rental.public_ip
}

output "servers" {
  description = "Each rented server: its VLAN, MAC addresses and console link, by server name."
  value = {
    for assignment in giif_bms_assignment.server : assignment.bms => {
      vlan          = assignment.vlan
      mac_addresses = assignment.mac_addresses
      console_url   = assignment.console_url
    }
  }
}
