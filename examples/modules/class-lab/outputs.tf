output "project_id" {
  description = "The lab's project id."
  value       = giif_project.lab.id
}

output "gateway_public_ip" {
  description = "The lab gateway's public address (WireGuard, SNAT)."
  value       = giif_pagw.lab.public_ip
}

output "web_public_ip" {
  description = "The shared web server's public address."
  value       = giif_floating_ip.web.address
}

output "student_consoles" {
  description = "Each student's console link, by student."
  value       = { for student, connection in giif_guacamole_connection.student : student => connection.client_url }
}

output "student_vms" {
  description = "Each student's VM (node/vmid), by student."
  value       = { for student, vm in giif_vm.student : student => "${vm.node}/${vm.vmid}" }
}

output "console_group_id" {
  description = "The lab's Guacamole connection group."
  value       = giif_project.lab.connection_group_id
}
